//! What the template tests share.

pub mod template;
