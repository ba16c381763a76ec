//! Locating the `skiff` binary and finding free ports.

use std::net::TcpListener;
use std::path::PathBuf;

/// Returns the path of the `skiff` binary under test: `$SKIFF_BIN` if set,
/// otherwise `target/<profile>/skiff` beside the running test binary.
pub fn skiff_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("SKIFF_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("the test binary has a path");
    // Test binaries live in target/<profile>/deps/.
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("the test binary lives in target/<profile>/deps");
    profile_dir.join("skiff")
}

/// Returns a TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0 works");
    listener
        .local_addr()
        .expect("a bound listener has an address")
        .port()
}

/// Sends SIGTERM to a child this harness started, as Ctrl-C would, and waits
/// up to `grace` for it to exit before killing it.
pub fn terminate(child: &mut std::process::Child, grace: std::time::Duration) {
    // SAFETY: kill() only sends a signal to a child the caller started.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let deadline = std::time::Instant::now() + grace;
    while std::time::Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
}
