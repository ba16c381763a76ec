//! Writing the kubeconfig that `skiff server` hands to kubectl and the agents.

use std::path::Path;

use anyhow::Context;

/// Writes a kubeconfig for the apiserver at `server` (e.g.
/// `http://127.0.0.1:6443`) to `path`, readable only by its owner.
pub fn write(path: &Path, server: &str) -> anyhow::Result<()> {
    let content = format!(
        "apiVersion: v1
kind: Config
clusters:
- name: skiff
  cluster:
    server: {server}
users:
- name: skiff-admin
  user: {{}}
contexts:
- name: skiff
  context:
    cluster: skiff
    user: skiff-admin
    namespace: default
current-context: skiff
"
    );
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("failed to create {}", parent.display()))?;
    }
    let temporary = path.with_extension("tmp");
    std::fs::write(&temporary, content)
        .with_context(|| format!("failed to write {}", temporary.display()))?;
    set_private(&temporary)?;
    std::fs::rename(&temporary, path)
        .with_context(|| format!("failed to write {}", path.display()))?;
    Ok(())
}

fn set_private(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("failed to set permissions on {}", path.display()))
}
