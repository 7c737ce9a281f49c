//! The pieces of the proxy bench: the stand-in provider (`upstream`), the proxy as a child process
//! (`proxy_process`), the hyper load client (`client`), the figures (`report`) and the `main` both
//! benches share (`runner`).

pub mod client;
pub mod proxy_process;
pub mod report;
pub mod runner;
pub mod upstream;
