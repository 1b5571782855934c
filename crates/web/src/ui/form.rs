//! One form field as the templates draw it: label, value, and its error if any.

use roster_domain::{FieldError, Role, RoleSet};
use serde::Deserialize;

/// A text input with everything needed to render it accessibly.
#[derive(Debug, Clone)]
pub struct Field {
    /// The input's `name` (and, with dots replaced, its `id`).
    pub name: String,
    pub label: String,
    pub value: String,
    /// `text`, `tel`, `email`, `password`...
    pub kind: &'static str,
    pub autocomplete: &'static str,
    pub hint: String,
    /// The id of a hint shared by a group of fields (shown once above them).
    pub group_hint: &'static str,
    pub error: Option<String>,
    pub required: bool,
    /// Shown but not editable by this administrator.
    pub readonly: bool,
}

impl Field {
    /// A plain text field.
    pub fn text(name: &str, label: &str, value: &str) -> Field {
        Field {
            name: name.into(),
            label: label.into(),
            value: value.into(),
            kind: "text",
            autocomplete: "off",
            hint: String::new(),
            group_hint: "",
            error: None,
            required: false,
            readonly: false,
        }
    }

    /// Sets the input type.
    pub fn kind(mut self, kind: &'static str) -> Field {
        self.kind = kind;
        self
    }

    /// Sets the autocomplete token.
    pub fn autocomplete(mut self, token: &'static str) -> Field {
        self.autocomplete = token;
        self
    }

    /// Adds a hint shown under the label.
    pub fn hint(mut self, hint: &str) -> Field {
        self.hint = hint.into();
        self
    }

    /// Describes the field also by a hint shared with its group, by that hint's id.
    pub fn group_hint(mut self, id: &'static str) -> Field {
        self.group_hint = id;
        self
    }

    /// Marks the field required.
    pub fn required(mut self) -> Field {
        self.required = true;
        self
    }

    /// Marks the field read-only.
    pub fn readonly(mut self, readonly: bool) -> Field {
        self.readonly = readonly;
        self
    }

    /// Attaches the error for this field from `errors`, if there is one.
    pub fn with_errors(mut self, errors: &[FieldError]) -> Field {
        self.error = errors.iter().find(|e| e.field == self.name).map(|e| e.message.clone());
        self
    }

    /// The element id: names may contain dots, which are awkward in CSS selectors.
    pub fn id(&self) -> String {
        self.name.replace('.', "-")
    }

    /// The name the input submits under: repeated fields share it (`alternate_email.2` →
    /// `alternate_email`).
    pub fn input_name(&self) -> &str {
        self.name.split('.').next().unwrap_or(&self.name)
    }

    /// The ids the input is described by: its hint and its error.
    pub fn describedby(&self) -> String {
        let mut ids = Vec::new();
        if !self.group_hint.is_empty() {
            ids.push(self.group_hint.to_string());
        }
        if !self.hint.is_empty() {
            ids.push(format!("{}-hint", self.id()));
        }
        if self.error.is_some() {
            ids.push(format!("{}-error", self.id()));
        }
        ids.join(" ")
    }
}

/// An entry of the error summary at the top of a form: links to the field.
#[derive(Debug, Clone)]
pub struct SummaryItem {
    pub target: String,
    pub message: String,
}

/// The error summary for a list of field errors, in field order.
pub fn summary(errors: &[FieldError]) -> Vec<SummaryItem> {
    errors.iter().map(|e| SummaryItem { target: e.field.replace('.', "-"), message: e.message.clone() }).collect()
}

/// What a new password must be, in the words of every password field's hint.
pub fn password_hint(min_length: usize) -> String {
    format!(
        "At least {min_length} characters, with three of: lower-case letters, upper-case letters, digits, symbols. \
         Avoid common words and patterns: a phrase of unrelated words works well."
    )
}

/// The "New password" and "Confirm new password" fields every password form has.
pub fn new_password_fields(errors: &[FieldError], min_length: usize) -> [Field; 2] {
    [
        Field::text("new_password", "New password", "")
            .kind("password")
            .autocomplete("new-password")
            .hint(&password_hint(min_length))
            .required()
            .with_errors(errors),
        Field::text("confirm_password", "Confirm new password", "")
            .kind("password")
            .autocomplete("new-password")
            .required()
            .with_errors(errors),
    ]
}

/// A form that carries nothing but its anti-forgery token (a button that does one thing).
#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

/// A role checkbox.
pub struct RoleChoice {
    pub slug: &'static str,
    pub name: &'static str,
    pub checked: bool,
}

/// The role checkboxes, with `roles` ticked.
pub fn role_choices(roles: RoleSet) -> Vec<RoleChoice> {
    Role::ALL
        .into_iter()
        .map(|r| RoleChoice { slug: r.slug(), name: r.display_name(), checked: roles.contains(r) })
        .collect()
}

/// The roles the ticked checkboxes name.
pub fn parse_roles(slugs: &[String]) -> RoleSet {
    RoleSet::of(&slugs.iter().filter_map(|s| Role::from_slug(s)).collect::<Vec<_>>())
}
