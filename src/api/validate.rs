//! DRF-style validation: every bad field of a request reported at once, by field name.
use std::collections::BTreeMap;

use super::errors::ApiError;

/// Field name → messages.
pub type FieldErrors = BTreeMap<String, Vec<String>>;

pub const REQUIRED: &str = "This field is required.";
pub const BLANK: &str = "This field may not be blank.";

/// Collects field errors so a request reports every bad field at once, as DRF does.
#[derive(Default, Debug)]
pub struct Validator {
    errors: FieldErrors,
}

impl Validator {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.errors
            .entry(field.to_string())
            .or_default()
            .push(message.into());
    }

    pub fn require<'a, T>(&mut self, field: &str, value: &'a Option<T>) -> Option<&'a T> {
        if value.is_none() {
            self.add(field, REQUIRED);
        }
        value.as_ref()
    }

    /// A required text field, trimmed; blank is an error.
    pub fn required_text(&mut self, field: &str, value: &Option<String>) -> Option<String> {
        let text = self.require(field, value)?.trim();
        if text.is_empty() {
            self.add(field, BLANK);
            return None;
        }
        Some(text.to_string())
    }

    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self.errors))
        }
    }
}
