//! The container's stdio on the monitor's side. Without a TTY it is pipes:
//! stdout, stderr and, with `stdin`, stdin. With `tty` it is the master side
//! of the pseudo-terminal that runc allocates and sends to a console socket.

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex;

use nix::fcntl::OFlag;
use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};

/// The terminal's end-of-file character (Ctrl-D), the VEOF default.
const TERMINAL_EOF: u8 = 0x04;

/// Unix socket addresses hold at most 107 path bytes; longer paths go
/// through `/proc/self/fd`.
const MAX_SOCKET_PATH: usize = 100;

/// The monitor's ends of the container's stdio after `runc create`.
pub struct Streams {
    /// Readable output streams with their CRI log stream names.
    pub outputs: Vec<(OwnedFd, &'static str)>,
    pub input: ContainerInput,
}

/// The stdio handed to `runc create`.
pub struct ChildStdio {
    pub stdin: Stdio,
    pub stdout: Stdio,
    pub stderr: Stdio,
    /// The console socket path for `runc create --console-socket`, with a TTY.
    pub console_socket: Option<PathBuf>,
}

/// The monitor's ends of the stdio, complete once `runc create` succeeded.
pub struct Pending(Ends);

enum Ends {
    Pipes {
        stdout: OwnedFd,
        stderr: OwnedFd,
        stdin: Option<OwnedFd>,
    },
    Terminal {
        listener: UnixListener,
        _socket: RemoveOnDrop,
    },
}

/// Removes the console socket file when the monitor is done with it.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Creates the pipes (or the console socket) for a container.
pub fn prepare(stdin: bool, tty: bool, id: &str) -> std::io::Result<(ChildStdio, Pending)> {
    if tty {
        let short_id: String = id.chars().take(16).collect();
        let path = std::env::temp_dir().join(format!("skiff-console-{short_id}.sock"));
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path)?;
        let child = ChildStdio {
            stdin: Stdio::null(),
            stdout: Stdio::null(),
            stderr: Stdio::null(),
            console_socket: Some(path.clone()),
        };
        let pending = Pending(Ends::Terminal {
            listener,
            _socket: RemoveOnDrop(path),
        });
        return Ok((child, pending));
    }
    let (stdout_read, stdout_write) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    let (stderr_read, stderr_write) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    let (stdin_child, stdin_keep) = if stdin {
        let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
        (Stdio::from(read), Some(write))
    } else {
        (Stdio::null(), None)
    };
    let child = ChildStdio {
        stdin: stdin_child,
        stdout: Stdio::from(stdout_write),
        stderr: Stdio::from(stderr_write),
        console_socket: None,
    };
    let pending = Pending(Ends::Pipes {
        stdout: stdout_read,
        stderr: stderr_read,
        stdin: stdin_keep,
    });
    Ok((child, pending))
}

impl Pending {
    /// Collects the monitor's ends once `runc create` succeeded: with a TTY,
    /// runc has sent the terminal's master to the console socket by then.
    pub fn finish(self, stdin: bool, stdin_once: bool) -> std::io::Result<Streams> {
        match self.0 {
            Ends::Pipes {
                stdout,
                stderr,
                stdin: stdin_pipe,
            } => Ok(Streams {
                outputs: vec![(stdout, "stdout"), (stderr, "stderr")],
                input: ContainerInput {
                    stdin: Mutex::new(stdin_pipe.map(File::from)),
                    terminal: None,
                    stdin_once,
                },
            }),
            Ends::Terminal { listener, .. } => {
                let master = receive_master(&listener)?;
                let writer = if stdin {
                    Some(File::from(master.try_clone()?))
                } else {
                    None
                };
                Ok(Streams {
                    outputs: vec![(master.try_clone()?, "stdout")],
                    input: ContainerInput {
                        stdin: Mutex::new(writer),
                        terminal: Some(master),
                        stdin_once,
                    },
                })
            }
        }
    }
}

/// Accepts runc's connection on the console socket and receives the
/// master file descriptor it sends with SCM_RIGHTS.
fn receive_master(listener: &UnixListener) -> std::io::Result<OwnedFd> {
    // runc create has exited, so its connection, if any, is already queued.
    listener.set_nonblocking(true)?;
    let (connection, _) = listener.accept()?;
    connection.set_nonblocking(false)?;
    let mut data = [0u8; 4096];
    let mut iov = [std::io::IoSliceMut::new(&mut data)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let message = recvmsg::<()>(
        connection.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )?;
    for control in message.cmsgs()? {
        if let ControlMessageOwned::ScmRights(fds) = control
            && let Some(&fd) = fds.first()
        {
            // SAFETY: the kernel installed this descriptor for this process
            // and nothing else owns it.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
        }
    }
    Err(std::io::Error::other(
        "runc sent no terminal on the console socket",
    ))
}

/// The container's input side: its stdin and, with a TTY, the terminal.
pub struct ContainerInput {
    /// The write end of the stdin pipe, or the terminal master; `None`
    /// without stdin or once stdin was closed.
    stdin: Mutex<Option<File>>,
    terminal: Option<OwnedFd>,
    stdin_once: bool,
}

impl ContainerInput {
    /// Writes to the container's stdin; data after stdin was closed is dropped.
    pub fn write(&self, data: &[u8]) {
        let mut stdin = self.stdin.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(writer) = stdin.as_mut()
            && writer.write_all(data).is_err()
        {
            *stdin = None;
        }
    }

    /// Sets the terminal size; the kernel sends SIGWINCH to the container's
    /// foreground process group. Without a TTY this does nothing.
    pub fn resize(&self, width: u16, height: u16) {
        let Some(terminal) = self.terminal.as_ref() else {
            return;
        };
        let size = libc::winsize {
            ws_row: height,
            ws_col: width,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads one winsize struct from the pointer.
        unsafe { libc::ioctl(terminal.as_raw_fd(), libc::TIOCSWINSZ, &size) };
    }

    /// Handles the end of one attached client's stdin: with `stdinOnce`
    /// the container's stdin closes, so a pipe reader sees end of file.
    // NOTE: a terminal cannot close its input side alone, so with a TTY the
    // monitor writes the EOF character (Ctrl-D) once instead. Only a program
    // reading in canonical mode at the start of a line gets end of file.
    // containerd 1.6 leaves a terminal's stdin open in this case.
    pub fn client_stdin_ended(&self) {
        if !self.stdin_once {
            return;
        }
        let mut stdin = self.stdin.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(mut writer) = stdin.take()
            && self.terminal.is_some()
        {
            let _ = writer.write_all(&[TERMINAL_EOF]);
        }
    }
}

/// Returns a path that reaches `name` inside `dir` and fits a Unix socket
/// address, with the directory handle that must stay open while it is used.
pub fn socket_path(dir: &Path, name: &str) -> std::io::Result<(Option<File>, PathBuf)> {
    let direct = dir.join(name);
    if direct.as_os_str().len() <= MAX_SOCKET_PATH {
        return Ok((None, direct));
    }
    let handle = File::open(dir)?;
    let path = PathBuf::from(format!("/proc/self/fd/{}/{name}", handle.as_raw_fd()));
    Ok((Some(handle), path))
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn input(stdin: Option<File>, terminal: Option<OwnedFd>, stdin_once: bool) -> ContainerInput {
        ContainerInput {
            stdin: Mutex::new(stdin),
            terminal,
            stdin_once,
        }
    }

    #[test]
    fn stdin_once_closes_pipe() {
        let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC).expect("pipe");
        let input = input(Some(File::from(write)), None, true);
        input.write(b"line\n");
        input.client_stdin_ended();
        input.write(b"dropped\n");
        let mut received = String::new();
        File::from(read)
            .read_to_string(&mut received)
            .expect("read to end of file");
        assert_eq!(received, "line\n");
    }

    #[test]
    fn stdin_stays_open_without_stdin_once() {
        let (_read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC).expect("pipe");
        let input = input(Some(File::from(write)), None, false);
        input.client_stdin_ended();
        let stdin = input.stdin.lock().expect("lock");
        assert!(stdin.is_some());
    }

    #[test]
    fn resize_sets_terminal_size() {
        let pty = nix::pty::openpty(None, None).expect("openpty");
        let input = input(None, Some(pty.master), false);
        input.resize(132, 43);
        let mut size = libc::winsize {
            ws_row: 0,
            ws_col: 0,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCGWINSZ writes one winsize into the pointed-to struct.
        let result = unsafe { libc::ioctl(pty.slave.as_raw_fd(), libc::TIOCGWINSZ, &mut size) };
        assert_eq!(result, 0);
        assert_eq!((size.ws_col, size.ws_row), (132, 43));
    }

    #[test]
    fn socket_path_fits_address() {
        let dir = tempfile::tempdir().expect("tempdir");
        let long = dir.path().join("x".repeat(120));
        std::fs::create_dir(&long).expect("mkdir");
        let (handle, path) = socket_path(&long, "attach.sock").expect("path");
        assert!(handle.is_some());
        assert!(path.as_os_str().len() <= MAX_SOCKET_PATH);
        let listener = UnixListener::bind(&path).expect("bind through /proc/self/fd");
        drop(listener);
        assert!(long.join("attach.sock").exists());
    }
}
