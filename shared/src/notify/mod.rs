//! Notifications as customers receive them: which channel ([`policy`]), what they read
//! ([`templates`], [`format`], [`sms`]).

pub mod format;
pub mod policy;
pub mod sms;
pub mod templates;

pub use policy::ChannelPolicy;
pub use templates::{Message, MessageContext, Renderer};
