//! Notifications as customers receive them: which channel ([`policy`]), what they read
//! ([`templates`], [`format`], [`sms`]), and how it is sent ([`send`]).

pub mod compose;
pub mod feedback;
pub mod formal_notice;
pub mod format;
pub mod owner_templates;
pub mod policy;
pub mod send;
pub mod sms;
pub mod templates;

pub use policy::ChannelPolicy;
pub use templates::{Message, MessageContext, Renderer};
