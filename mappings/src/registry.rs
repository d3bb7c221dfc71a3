//! The live set of mappings: swapped atomically on reload, kept when a reload fails.
//!
//! The watcher polls the mapping files' modification times and sizes every interval (one
//! second by default) rather than using OS file notifications: a few dozen `stat` calls a
//! second cost nothing, it adds no dependency, and it behaves the same on every file
//! system (bind mounts, network shares and editors that save by rename, where inotify
//! events get lost or doubled).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;

use crate::error::MappingError;
use crate::set::{MappingSet, mapping_files};

/// What the files looked like: each file's path, modification time and size.
type Fingerprint = Vec<(PathBuf, Option<SystemTime>, u64)>;

/// The mappings in use, reloadable while readers keep reading.
#[derive(Debug)]
pub struct Registry {
    dirs: Vec<PathBuf>,
    current: ArcSwap<MappingSet>,
    last_errors: Mutex<Vec<MappingError>>,
    /// The files as they were when last (re)loaded, for the watcher.
    loaded: Mutex<Fingerprint>,
}

/// What a reload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reloaded {
    /// How many mappings are in use now.
    pub mappings: usize,
}

fn fingerprint(dirs: &[PathBuf]) -> Fingerprint {
    let mut all = Vec::new();
    for dir in dirs {
        // Every file under the directories: mapping files, program files and fixtures.
        let Ok(files) = mapping_files(dir) else {
            continue;
        };
        let mut extra: Vec<PathBuf> = Vec::new();
        let mut pending = vec![dir.clone()];
        while let Some(current) = pending.pop() {
            let Ok(entries) = std::fs::read_dir(&current) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    pending.push(path);
                } else if path.extension().is_some_and(|ext| ext == "jq") {
                    extra.push(path);
                }
            }
        }
        for path in files.into_iter().chain(extra) {
            let meta = std::fs::metadata(&path).ok();
            let modified = meta.as_ref().and_then(|m| m.modified().ok());
            let size = meta.map_or(0, |m| m.len());
            all.push((path, modified, size));
        }
    }
    all.sort();
    all
}

impl Registry {
    /// Loads the mappings of `dirs`.
    ///
    /// # Errors
    /// Every error of every file (see [`MappingSet::load`]).
    pub fn open(dirs: Vec<PathBuf>) -> Result<Self, Vec<MappingError>> {
        let loaded = fingerprint(&dirs);
        let set = MappingSet::load(&dirs)?;
        Ok(Self {
            dirs,
            current: ArcSwap::from_pointee(set),
            last_errors: Mutex::new(Vec::new()),
            loaded: Mutex::new(loaded),
        })
    }

    /// The mappings in use now. Hold the `Arc` for one unit of work; a reload does not
    /// change a set already taken.
    #[must_use]
    pub fn current(&self) -> Arc<MappingSet> {
        self.current.load_full()
    }

    /// Loads every file again and, when all compile, swaps the new set in atomically. On
    /// any error the set in use stays and the errors are returned (and logged, and kept for
    /// [`last_errors`](Self::last_errors)).
    ///
    /// # Errors
    /// Every error found, with file:line:column.
    pub fn reload(&self) -> Result<Reloaded, Vec<MappingError>> {
        *self.loaded.lock().unwrap_or_else(PoisonError::into_inner) = fingerprint(&self.dirs);
        match MappingSet::load(&self.dirs) {
            Ok(set) => {
                let mappings = set.len();
                self.current.store(Arc::new(set));
                self.last_errors
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clear();
                tracing::info!(mappings, "mappings reloaded");
                Ok(Reloaded { mappings })
            }
            Err(errors) => {
                for error in &errors {
                    tracing::error!(%error, "mapping reload refused; the previous mappings stay in use");
                }
                self.last_errors
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone_from(&errors);
                Err(errors)
            }
        }
    }

    /// The errors of the last failed reload (empty after a successful one).
    #[must_use]
    pub fn last_errors(&self) -> Vec<MappingError> {
        self.last_errors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Starts a thread that reloads whenever a file under the directories changes (checked
    /// every `interval`). It stops when the returned [`Watcher`] is dropped.
    ///
    /// # Errors
    /// When the thread cannot be started.
    pub fn watch(self: &Arc<Self>, interval: Duration) -> std::io::Result<Watcher> {
        let stop = Arc::new(AtomicBool::new(false));
        let registry = Arc::clone(self);
        let stopping = Arc::clone(&stop);
        let handle = std::thread::Builder::new()
            .name("mapping-watcher".to_owned())
            .spawn(move || {
                while !stopping.load(Ordering::Relaxed) {
                    std::thread::sleep(interval);
                    let now = fingerprint(&registry.dirs);
                    let changed = *registry
                        .loaded
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        != now;
                    if changed {
                        // Errors are logged and kept by reload itself; a broken file is
                        // tried again when it changes again.
                        let _ = registry.reload();
                    }
                }
            })?;
        Ok(Watcher {
            stop,
            handle: Some(handle),
        })
    }
}

/// The reload thread of [`Registry::watch`]; stops it when dropped.
#[derive(Debug)]
pub struct Watcher {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}
