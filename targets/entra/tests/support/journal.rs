//! A journal for tests and the benchmark: keeps backups in memory and records nothing, so that
//! photos go through the delivery step (backup, change, record) as in a push.

#![allow(dead_code)]

use std::sync::Mutex;

use picday_core::engine::{Delivery, Journal};
use picday_core::{Error, Outcome};

/// Backups in memory: key -> the photo's size (`None`: the person had none).
#[derive(Debug, Default)]
pub struct Backups {
    pub saved: Mutex<Vec<(String, Option<usize>)>>,
}

impl Journal for Backups {
    fn unchanged(&self, _: &Delivery) -> Result<Option<String>, Error> {
        Ok(None)
    }
    fn backups(&self) -> bool {
        true
    }
    fn save_backup(&self, delivery: &Delivery, current: Option<Vec<u8>>) -> Result<(), Error> {
        self.saved
            .lock()
            .unwrap()
            .push((delivery.key.clone(), current.map(|c| c.len())));
        Ok(())
    }
    fn record(&self, _: Option<&Delivery>, _: &Outcome) -> Result<(), Error> {
        Ok(())
    }
}
