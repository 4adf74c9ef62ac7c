//! The Python virtual environment `scripts/setup` creates in `.venv`: cargo-lambda, moto, PyNaCl, cfn-lint.
//!
//! Tests that need these tools fail (they do not skip) when the venv is missing, with a message saying how
//! to create it: `scripts/test` always creates it first.

use std::ffi::OsString;
use std::path::PathBuf;

use anyhow::bail;

/// Overrides the venv location (default `<workspace>/.venv`).
pub const VENV_VAR: &str = "ENGAGEMENT_VENV";

/// The venv directory.
#[must_use]
pub fn venv_dir() -> PathBuf {
    std::env::var_os(VENV_VAR).map_or_else(|| crate::workspace_root().join(".venv"), PathBuf::from)
}

/// The path of executable `tool` in the venv.
///
/// # Errors
/// When it is not there, with instructions.
pub fn venv_bin(tool: &str) -> anyhow::Result<PathBuf> {
    let path = venv_dir().join("bin").join(tool);
    if path.is_file() {
        Ok(path)
    } else {
        bail!(
            "{} not found: the Python venv is missing or incomplete. Run `scripts/setup` (or `scripts/test`, \
             which runs it) from the workspace root to create {}",
            path.display(),
            venv_dir().display()
        )
    }
}

/// The venv's Python interpreter (with PyNaCl).
///
/// # Errors
/// When the venv is missing.
pub fn python() -> anyhow::Result<PathBuf> {
    venv_bin("python")
}

/// The `cargo-lambda` executable (run it as `cargo-lambda lambda watch …`).
///
/// # Errors
/// When the venv is missing.
pub fn cargo_lambda() -> anyhow::Result<PathBuf> {
    venv_bin("cargo-lambda")
}

/// `PATH` with the venv's `bin` first, for child processes that look tools up by name (cargo-lambda finds
/// zig there).
#[must_use]
pub fn path_with_venv() -> OsString {
    let mut paths = vec![venv_dir().join("bin")];
    if let Some(path) = std::env::var_os("PATH") {
        paths.extend(std::env::split_paths(&path));
    }
    std::env::join_paths(paths).unwrap_or_default()
}

/// Signing with PyNaCl from the venv: an implementation independent of ours, for end-to-end tests.
#[derive(Debug, Clone)]
pub struct PyNaClSigner {
    python: PathBuf,
    seed_hex: String,
}

const PYNACL_SIGN: &str = "import sys\nfrom nacl.signing import SigningKey\n\
key = SigningKey(bytes.fromhex(sys.argv[1]))\n\
if sys.argv[2] == 'public':\n    print(key.verify_key.encode().hex())\n\
else:\n    print(key.sign(sys.argv[3].encode() + sys.stdin.buffer.read()).signature.hex())\n";

impl PyNaClSigner {
    /// A signer for the key with this 32-byte seed.
    ///
    /// # Errors
    /// When the venv is missing.
    pub fn new(seed: &[u8; 32]) -> anyhow::Result<Self> {
        Ok(Self { python: python()?, seed_hex: hex::encode(seed) })
    }

    fn run(&self, args: &[&str], stdin: &[u8]) -> anyhow::Result<String> {
        use std::io::Write as _;
        use std::process::{Command, Stdio};

        use anyhow::Context as _;

        let mut child = Command::new(&self.python)
            .args(["-c", PYNACL_SIGN, &self.seed_hex])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("running {}", self.python.display()))?;
        if let Some(mut input) = child.stdin.take() {
            input.write_all(stdin)?;
        }
        let output = child.wait_with_output()?;
        if !output.status.success() {
            bail!("PyNaCl failed ({}): {}", output.status, String::from_utf8_lossy(&output.stderr));
        }
        Ok(String::from_utf8(output.stdout)?.trim().to_owned())
    }

    /// The hex public key, computed by PyNaCl.
    ///
    /// # Errors
    /// When Python or PyNaCl fails.
    pub fn public_key_hex(&self) -> anyhow::Result<String> {
        self.run(&["public"], b"")
    }

    /// The hex signature of `timestamp` followed by `body`, computed by PyNaCl.
    ///
    /// # Errors
    /// When Python or PyNaCl fails.
    pub fn sign(&self, timestamp: &str, body: &[u8]) -> anyhow::Result<String> {
        self.run(&["sign", timestamp], body)
    }
}
