//! The CLI's exit codes, and which error gets which.

use lamina_canary::{controller::CanaryError, ports::PortError};

/// The command did what was asked.
pub(crate) const OK: u8 = 0;
/// A rollout was rolled back, or a promotion was refused by its gates.
pub(crate) const ROLLED_BACK: u8 = 1;
/// Bad input: arguments, an unknown function, alias or version.
pub(crate) const BAD_INPUT: u8 = 2;
/// AWS could not be reached, or refused the call.
pub(crate) const AWS: u8 = 3;
/// The alias's state forbids the command.
pub(crate) const STATE: u8 = 4;
/// A rollout stalled: a deadline passed and its policy says hold.
pub(crate) const STALLED: u8 = 5;

/// The exit code for a failed command.
pub(crate) fn code_for(error: &CanaryError) -> u8 {
    match error {
        CanaryError::NotFound(_) | CanaryError::InvalidInput(_) => BAD_INPUT,
        CanaryError::Refused(_) => ROLLED_BACK,
        CanaryError::NoRollout { .. }
        | CanaryError::AlreadyInProgress { .. }
        | CanaryError::Drift(_)
        | CanaryError::Conflict(_) => STATE,
        CanaryError::Aws(PortError::NotFound(_) | PortError::Rejected(_)) => BAD_INPUT,
        CanaryError::Aws(PortError::Conflict(_)) => STATE,
        CanaryError::Aws(PortError::Unavailable(_)) => AWS,
    }
}
