//! End-to-end tests of the `ci-preview` binary against ci-fixtures' mock GitHub and a stand-in
//! preview. One test binary (several modules) keeps link time down on small CI machines.

mod browser_state;
mod browser_state_files;
mod call;
mod call_retry;
mod discover;
mod hostile;
mod policy_check;
mod protection;
mod real_server;
mod smoke;
mod storage_state;
mod storage_state_local;
mod support;
mod token;
mod wait;
