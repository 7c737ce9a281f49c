//! [recording] Sessions recorded through the real proxy into real files: conversations with tool
//! round-trips over each transport, and the recorder under shutdown (graceful, and past the grace
//! period), crashes and broken disks.

mod conversation;
mod failures;
mod harness;
mod shutdown;
mod stress;
mod unwritable;
