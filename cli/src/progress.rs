//! Progress on the terminal: one bar for photos, one for deliveries. Hidden when standard
//! error is not a terminal, so logs and CI output stay clean, and with `-q`.

use std::io::IsTerminal;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use picday_core::engine::{Observer, Outcome};
use picday_core::pipeline::Processed;
use picday_core::{Error, Person};

/// The push progress bars.
#[derive(Debug)]
pub struct Bars {
    photos: ProgressBar,
    sends: ProgressBar,
}

impl Bars {
    pub fn new(people: usize, deliveries: usize) -> Self {
        let multi = MultiProgress::with_draw_target(
            if std::io::stderr().is_terminal() && crate::exit::progress_wanted() {
                ProgressDrawTarget::stderr()
            } else {
                ProgressDrawTarget::hidden()
            },
        );
        let style = ProgressStyle::with_template(
            "{prefix:>10} [{bar:30}] {pos}/{len} {per_sec} eta {eta} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        let photos = multi.add(ProgressBar::new(people as u64).with_style(style.clone()));
        photos.set_prefix("photos");
        let sends = multi.add(ProgressBar::new(deliveries as u64).with_style(style));
        sends.set_prefix("deliveries");
        Bars { photos, sends }
    }

    pub fn finish(&self) {
        self.photos.finish_and_clear();
        self.sends.finish_and_clear();
    }
}

impl Observer for Bars {
    fn photo_done(&self, _person: &Person, result: Result<&Processed, &Error>) {
        self.photos.inc(1);
        if result.is_err() {
            self.photos.set_message("(some photos unreadable)");
        }
    }

    fn photo_loaded(&self, _photo: &picday_core::Photo) {
        self.photos.inc(1);
    }

    fn outcome(&self, outcome: &Outcome) {
        self.sends.inc(1);
        if outcome.status == picday_core::Status::Failed {
            self.sends.set_message("(some failed)");
        }
    }
}
