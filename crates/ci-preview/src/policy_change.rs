//! What a pull request changes in the CI-in-preview policy, read with git alone: the two policy
//! files and the changed paths (`git`), and the grants the head adds over the base (`grants`).
//! `ci-preview policy check` (`commands/policy.rs`) prints them and applies the same-PR rule.

pub(crate) mod git;
pub(crate) mod grants;
