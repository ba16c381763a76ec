//! The container's process: arguments, environment, working directory and
//! user, merged from the image config and the CRI config.

use std::path::Path;

use k8s_cri::v1::ContainerConfig;

use crate::image::ImageConfig;

const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error(
        "no command specified: set the container's command or args, or use an image with an entrypoint or cmd"
    )]
    NoCommand,
    #[error("user {user:?} not found in the image's /etc/passwd")]
    UnknownUser { user: String },
    #[error("group {group:?} not found in the image's /etc/group")]
    UnknownGroup { group: String },
}

/// Arguments as Kubernetes defines them: `command` replaces the image
/// entrypoint (and drops its cmd); `args` alone replace only the cmd.
pub fn arguments(
    config: &ContainerConfig,
    image: &ImageConfig,
) -> Result<Vec<String>, ProcessError> {
    // An entrypoint of one empty string means none, as Docker reads it
    // (`ENTRYPOINT [""]` resets a base image's entrypoint).
    let entrypoint: &[String] = match image.entrypoint.as_slice() {
        [only] if only.is_empty() => &[],
        other => other,
    };
    let args = if !config.command.is_empty() {
        config.command.iter().chain(&config.args).cloned().collect()
    } else if !config.args.is_empty() {
        entrypoint.iter().chain(&config.args).cloned().collect()
    } else {
        entrypoint
            .iter()
            .chain(&image.cmd)
            .cloned()
            .collect::<Vec<_>>()
    };
    if args.is_empty() {
        return Err(ProcessError::NoCommand);
    }
    Ok(args)
}

/// The image environment overridden by the CRI one, with a default PATH and
/// HOSTNAME, and `TERM=xterm` for a container with a TTY as containerd sets.
pub fn environment(config: &ContainerConfig, image: &ImageConfig, hostname: &str) -> Vec<String> {
    let mut env: Vec<(String, String)> = Vec::new();
    let mut set = |key: &str, value: &str| match env.iter_mut().find(|(name, _)| name == key) {
        Some(entry) => entry.1 = value.to_string(),
        None => env.push((key.to_string(), value.to_string())),
    };
    let (path_key, path_value) = DEFAULT_PATH.split_once('=').unwrap_or(("PATH", ""));
    set(path_key, path_value);
    set("HOSTNAME", hostname);
    if config.tty {
        set("TERM", "xterm");
    }
    for pair in &image.env {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        set(key, value);
    }
    for pair in &config.envs {
        set(&pair.key, &pair.value);
    }
    env.into_iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect()
}

/// The working directory: CRI, then image, then `/`.
pub fn working_dir(config: &ContainerConfig, image: &ImageConfig) -> String {
    if !config.working_dir.is_empty() {
        return config.working_dir.clone();
    }
    image
        .working_dir
        .clone()
        .filter(|dir| !dir.is_empty())
        .unwrap_or_else(|| "/".to_string())
}

/// Numeric user of the process.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct User {
    pub uid: u32,
    pub gid: u32,
}

/// Resolves the user: CRI `run_as_user`/`run_as_group` or `run_as_username`
/// win over the image's user; names are looked up in the rootfs.
pub fn user(
    config: &ContainerConfig,
    image: &ImageConfig,
    rootfs: &Path,
) -> Result<User, ProcessError> {
    let security = config
        .linux
        .as_ref()
        .and_then(|linux| linux.security_context.as_ref());
    let run_as_group = security
        .and_then(|context| context.run_as_group.as_ref())
        .map(|group| group.value as u32);
    let spec = match security {
        Some(context) if context.run_as_user.is_some() => context
            .run_as_user
            .as_ref()
            .map(|uid| uid.value.to_string()),
        Some(context) if !context.run_as_username.is_empty() => {
            Some(context.run_as_username.clone())
        }
        _ => image.user.clone().filter(|user| !user.is_empty()),
    };
    let Some(spec) = spec else {
        return Ok(User {
            uid: 0,
            gid: run_as_group.unwrap_or(0),
        });
    };
    let (user_part, group_part) = match spec.split_once(':') {
        Some((user, group)) => (user.to_string(), Some(group.to_string())),
        None => (spec.clone(), None),
    };
    let passwd = std::fs::read_to_string(rootfs.join("etc/passwd")).unwrap_or_default();
    let (uid, passwd_gid) = match user_part.parse::<u32>() {
        Ok(uid) => (uid, lookup_passwd_by_uid(&passwd, uid).unwrap_or(uid)),
        Err(_) => lookup_passwd_by_name(&passwd, &user_part).ok_or(ProcessError::UnknownUser {
            user: user_part.clone(),
        })?,
    };
    let gid = match (run_as_group, group_part) {
        (Some(gid), _) => gid,
        (None, Some(group)) => match group.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => {
                let groups = std::fs::read_to_string(rootfs.join("etc/group")).unwrap_or_default();
                lookup_group(&groups, &group).ok_or(ProcessError::UnknownGroup { group })?
            }
        },
        (None, None) => passwd_gid,
    };
    Ok(User { uid, gid })
}

fn passwd_entries(passwd: &str) -> impl Iterator<Item = (&str, u32, u32)> {
    passwd.lines().filter_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        let uid = fields.get(2)?.parse().ok()?;
        let gid = fields.get(3)?.parse().ok()?;
        Some((fields[0], uid, gid))
    })
}

fn lookup_passwd_by_name(passwd: &str, name: &str) -> Option<(u32, u32)> {
    passwd_entries(passwd)
        .find(|(entry, _, _)| *entry == name)
        .map(|(_, uid, gid)| (uid, gid))
}

fn lookup_passwd_by_uid(passwd: &str, uid: u32) -> Option<u32> {
    passwd_entries(passwd)
        .find(|(_, entry, _)| *entry == uid)
        .map(|(_, _, gid)| gid)
}

fn lookup_group(groups: &str, name: &str) -> Option<u32> {
    groups.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.first() == Some(&name)).then(|| fields.get(2)?.parse().ok())?
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_cri::v1::KeyValue;

    fn image() -> ImageConfig {
        ImageConfig {
            entrypoint: vec!["/entry".into()],
            cmd: vec!["default".into()],
            env: vec!["A=image".into(), "B=image".into()],
            user: Some("nobody".into()),
            ..ImageConfig::default()
        }
    }

    #[test]
    fn arguments_skip_empty_entrypoint() {
        let image = ImageConfig {
            entrypoint: vec![String::new()],
            cmd: vec!["sh".into()],
            ..ImageConfig::default()
        };
        let mut config = ContainerConfig::default();
        assert_eq!(arguments(&config, &image).expect("cmd"), ["sh"]);
        config.args = vec!["httpd".into(), "-f".into()];
        assert_eq!(arguments(&config, &image).expect("args"), ["httpd", "-f"]);
    }

    #[test]
    fn arguments_follow_kubernetes_rules() {
        let mut config = ContainerConfig::default();
        assert_eq!(
            arguments(&config, &image()).expect("image"),
            ["/entry", "default"]
        );
        config.args = vec!["x".into()];
        assert_eq!(arguments(&config, &image()).expect("args"), ["/entry", "x"]);
        config.command = vec!["/bin/sh".into()];
        assert_eq!(
            arguments(&config, &image()).expect("command"),
            ["/bin/sh", "x"]
        );
        let empty = ImageConfig::default();
        assert!(arguments(&ContainerConfig::default(), &empty).is_err());
    }

    #[test]
    fn environment_overrides_image() {
        let config = ContainerConfig {
            envs: vec![KeyValue {
                key: "B".into(),
                value: "cri".into(),
            }],
            ..ContainerConfig::default()
        };
        let env = environment(&config, &image(), "pod");
        assert!(env.contains(&"A=image".to_string()));
        assert!(env.contains(&"B=cri".to_string()));
        assert!(env.contains(&"HOSTNAME=pod".to_string()));
        assert!(env.iter().any(|pair| pair.starts_with("PATH=")));
        assert!(!env.iter().any(|pair| pair.starts_with("TERM=")));
    }

    #[test]
    fn environment_sets_term_with_tty() {
        let config = ContainerConfig {
            tty: true,
            ..ContainerConfig::default()
        };
        let env = environment(&config, &image(), "pod");
        assert!(env.contains(&"TERM=xterm".to_string()));
    }

    #[test]
    fn user_resolved_from_passwd() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("etc")).expect("mkdir");
        std::fs::write(
            dir.path().join("etc/passwd"),
            "root:x:0:0::/root:/bin/sh\nnobody:x:65534:65533::/:/bin/false\n",
        )
        .expect("passwd");
        std::fs::write(dir.path().join("etc/group"), "staff:x:50:\n").expect("group");
        let resolved = user(&ContainerConfig::default(), &image(), dir.path()).expect("user");
        assert_eq!(
            resolved,
            User {
                uid: 65534,
                gid: 65533
            }
        );
        let mut named = image();
        named.user = Some("1000:staff".into());
        let resolved = user(&ContainerConfig::default(), &named, dir.path()).expect("user");
        assert_eq!(resolved, User { uid: 1000, gid: 50 });
        named.user = Some("ghost".into());
        assert!(user(&ContainerConfig::default(), &named, dir.path()).is_err());
    }
}
