//! Guides: documentation that is about the crate as a whole rather than one item (these
//! modules hold no code).
//!
//! | guide | what |
//! |---|---|
//! | [`from_tokio`] | for tokio users: the builder story, spawning, and every deliberate difference with its reason |
//! | [`blocking`] | what may block a thread, and on what |

pub mod blocking;
pub mod from_tokio;
