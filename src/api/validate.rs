//! DRF-style validation: every bad field of a request reported at once, by field name.
use super::errors::ApiError;
pub use super::errors::FieldErrors;

pub const REQUIRED: &str = "This field is required.";
pub const BLANK: &str = "This field may not be blank.";

/// Longest name or identifier accepted (Waldur's and Keystone's limit for names and ids).
pub const NAME_MAX: usize = 255;
/// Longest URL or secret accepted.
pub const TEXT_MAX: usize = 4096;

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

    /// DRF's `max_length`: `value`, when given, has at most `max` characters.
    pub fn at_most(&mut self, field: &str, value: Option<&str>, max: usize) {
        if value.is_some_and(|text| text.chars().count() > max) {
            self.add(
                field,
                format!("Ensure this field has no more than {max} characters."),
            );
        }
    }

    /// Whether `field` already has an error.
    pub fn has(&self, field: &str) -> bool {
        self.errors.contains_key(field)
    }

    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self.errors))
        }
    }
}
