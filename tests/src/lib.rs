//! End-to-end tests live in `tests/`: each test binary starts the real functions under `cargo lambda
//! watch` (from the venv `scripts/setup` creates) once, and drives them over HTTP.
