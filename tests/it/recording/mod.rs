//! [recording] Sessions recorded through the real proxy into real files: conversations with tool
//! round-trips over each transport, and the recorder under shutdown, crashes and broken disks.

mod conversation;
mod harness;
mod stress;
mod unwritable;
