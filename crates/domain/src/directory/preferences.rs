//! Choices people make for themselves, such as the columns Active users shows them: kept per
//! person, changing nothing anyone else sees, so neither checked against roles nor audited.

use crate::directory::{Actor, Directory};
use crate::error::DomainError;
use crate::time_zone::{Zone, TIME_ZONE_PREFERENCE};

/// The longest value a preference keeps.
const MAX_VALUE: usize = 1_000;

impl Directory {
    /// What the signed-in person chose under `name`, if they did.
    pub async fn preference(&self, actor: &Actor, name: &str) -> Result<Option<String>, DomainError> {
        match actor.user_id {
            Some(user) => Ok(self.store.get_preference(user, name).await?),
            None => Ok(None),
        }
    }

    /// Keeps the signed-in person's choice under `name`.
    pub async fn set_preference(&self, actor: &Actor, name: &str, value: &str) -> Result<(), DomainError> {
        let user = actor
            .user_id
            .ok_or_else(|| DomainError::Forbidden("Only a person who signed in keeps choices of their own.".into()))?;
        if value.len() > MAX_VALUE {
            return Err(DomainError::invalid(name, format!("A choice can be at most {MAX_VALUE} characters long.")));
        }
        Ok(self.store.set_preference(user, name, value).await?)
    }

    /// The time zone the signed-in person reads times in: the one they chose, or UTC.
    pub async fn time_zone(&self, actor: &Actor) -> Result<Zone, DomainError> {
        let chosen = self.preference(actor, TIME_ZONE_PREFERENCE).await?;
        Ok(chosen.and_then(|name| Zone::named(&name)).unwrap_or_default())
    }

    /// Keeps the time zone the signed-in person chose, one of [`Zone::choices`] or UTC.
    pub async fn set_time_zone(&self, actor: &Actor, name: &str) -> Result<Zone, DomainError> {
        let zone = Zone::named(name)
            .ok_or_else(|| DomainError::invalid(TIME_ZONE_PREFERENCE, "Choose a time zone from the list."))?;
        self.set_preference(actor, TIME_ZONE_PREFERENCE, zone.name()).await?;
        Ok(zone)
    }
}
