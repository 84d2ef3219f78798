//! The policy in force. Services read it on every call, so when an admin replaces it the next
//! request sees the change; a request already running keeps the version it started with.

use std::sync::{Arc, RwLock};

use policy::{Policy, PolicyError};

#[derive(Clone, Debug)]
pub struct CurrentPolicy(Arc<RwLock<Arc<Policy>>>);

impl CurrentPolicy {
    pub fn new(policy: Policy) -> Self {
        Self(Arc::new(RwLock::new(Arc::new(policy))))
    }

    pub fn get(&self) -> Arc<Policy> {
        // A poisoned lock only means a writer panicked mid-swap; the Arc inside is whole.
        self.0.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// Puts `policy` in force if it validates; otherwise nothing changes.
    pub fn replace(&self, policy: Policy) -> Result<(), PolicyError> {
        policy.validate()?;
        *self.0.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(policy);
        Ok(())
    }

    /// Changes the policy in force with `change`, if the result validates; otherwise nothing
    /// changes. Two updates at once both take effect: each sees the other's result.
    pub fn update(&self, change: impl FnOnce(&mut Policy)) -> Result<(), PolicyError> {
        let mut current = self.0.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut changed = (**current).clone();
        change(&mut changed);
        changed.validate()?;
        *current = Arc::new(changed);
        Ok(())
    }
}
