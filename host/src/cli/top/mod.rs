//! `dbmon top`: a live full-screen view of every cluster, worst first.
//!
//! The [`model`] holds the state and changes it (reports, connection news, keys); [`draw`]
//! paints it into a ratatui frame; [`run`] joins the terminal's events, the Watch stream and
//! a clock tick in one `tokio::select!` loop on the caller's task.

mod cluster;
mod draw;
mod format;
mod keys;
mod link;
mod model;
mod screen;
mod verdict;

#[cfg(test)]
mod model_tests;
#[cfg(test)]
mod snapshot_tests;

use super::Failure;
use crossterm::event::{Event, EventStream};
use futures::StreamExt;
use keys::Flow;
use link::{Client, Link};
use model::Model;
use std::{collections::BTreeMap, time::Duration, time::SystemTime};

/// How often ages are redrawn when nothing else happens.
const TICK: Duration = Duration::from_secs(1);

/// Runs the view against `server` until `q` or Ctrl-C. The first snapshot is read before the
/// terminal is taken over, so a server that refuses is reported as by the other commands.
pub async fn run(client: Client, server: &str) -> Result<(), Failure> {
    let first = link::snapshot(client.clone(), BTreeMap::new()).await?;
    let mut model = Model::new(server, SystemTime::now());
    model.load(&first.clusters, first.reports);
    let mut link = Link::new(client, first.stream);
    let mut screen = screen::Screen::enter()?;
    let mut events = EventStream::new();
    let mut tick = tokio::time::interval(TICK);
    loop {
        model.now = SystemTime::now();
        screen.terminal.draw(|frame| draw::draw(frame, &model))?;
        tokio::select! {
            event = events.next() => match event {
                Some(Ok(Event::Key(key))) => {
                    if keys::handle(&mut model, key) == Flow::Quit {
                        break;
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
                // The terminal is gone.
                None => break,
            },
            news = link.next() => link.apply(news, &mut model),
            _ = tick.tick() => {}
        }
    }
    Ok(())
}
