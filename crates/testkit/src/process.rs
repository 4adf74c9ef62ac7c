//! Local ports and child processes for tests that run real servers (the Lambda emulator, moto, fake
//! Discord).

use std::fs::File;
use std::io::{self, Read as _, Seek as _, SeekFrom};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// A TCP port on 127.0.0.1 that was free a moment ago.
///
/// # Errors
/// When no port can be bound.
pub fn free_port() -> io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

/// A child process in its own process group, with stdout and stderr in a log file. Dropping it stops the
/// whole group (SIGTERM, then SIGKILL after two seconds), so grandchildren (the function the emulator
/// started, say) do not outlive the test.
#[derive(Debug)]
pub struct ChildGuard {
    name: String,
    child: Child,
    log_path: PathBuf,
}

impl ChildGuard {
    /// Starts `command`, logging to `target/test-logs/<name>-<pid>.log`.
    ///
    /// # Errors
    /// When the log file cannot be created or the program cannot start.
    pub fn spawn(name: &str, mut command: Command) -> anyhow::Result<Self> {
        let dir = crate::workspace_root().join("target").join("test-logs");
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let log_path = dir.join(format!("{name}-{}.log", std::process::id()));
        let log =
            File::create(&log_path).with_context(|| format!("creating {}", log_path.display()))?;
        let log_err = log.try_clone()?;
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err))
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {name}: {command:?}"))?;
        Ok(Self { name: name.to_owned(), child, log_path })
    }

    /// The process id (also the process group id).
    #[must_use]
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Where the output goes.
    #[must_use]
    pub const fn log_path(&self) -> &PathBuf {
        &self.log_path
    }

    /// The last `max_bytes` of the output, for failure messages.
    #[must_use]
    pub fn log_tail(&self, max_bytes: u64) -> String {
        let read = || -> io::Result<String> {
            let mut file = File::open(&self.log_path)?;
            let len = file.metadata()?.len();
            file.seek(SeekFrom::Start(len.saturating_sub(max_bytes)))?;
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes)?;
            Ok(String::from_utf8_lossy(&bytes).into_owned())
        };
        read().unwrap_or_else(|e| format!("(cannot read {}: {e})", self.log_path.display()))
    }

    /// Fails if the process has exited.
    ///
    /// # Errors
    /// When the process is no longer running, with the end of its output.
    pub fn ensure_running(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!(
                "{} exited early ({status}); end of its output:\n{}",
                self.name,
                self.log_tail(4000)
            );
        }
        Ok(())
    }

    /// Waits until something accepts connections on 127.0.0.1:`port`.
    ///
    /// # Errors
    /// When the process exits or `timeout` passes first.
    pub fn wait_for_port(&mut self, port: u16, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        loop {
            self.ensure_running()?;
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "{} did not listen on port {port} within {timeout:?}; output:\n{}",
                    self.name,
                    self.log_tail(4000)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn signal_group(&self, signal: &str) {
        // `kill -SIG -PGID` signals the whole group; the process is its group's leader (process_group(0)).
        let _ = Command::new("kill")
            .args([signal, "--", &format!("-{}", self.child.id())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            // The leader is gone; its group may not be.
            self.signal_group("-KILL");
            return;
        }
        self.signal_group("-TERM");
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.signal_group("-KILL");
        let _ = self.child.wait();
    }
}
