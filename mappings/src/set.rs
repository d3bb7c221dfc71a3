//! A set of mappings loaded from directories, looked up by id or by what they translate.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::definition::{Direction, Format, load_file};
use crate::error::{MappingError, MappingErrorKind};
use crate::mapping::Mapping;

/// Every mapping of some directories, compiled.
#[derive(Debug, Default)]
pub struct MappingSet {
    by_id: BTreeMap<String, Arc<Mapping>>,
}

/// The mapping files (`*.toml`) under `dir`, recursively, sorted.
///
/// # Errors
/// When a directory cannot be read.
pub fn mapping_files(dir: &Path) -> Result<Vec<PathBuf>, MappingError> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let entries = std::fs::read_dir(&current).map_err(|error| MappingError {
            path: current.clone(),
            line: 1,
            column: 1,
            kind: MappingErrorKind::Read,
            message: format!("cannot read the directory: {error}"),
        })?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|ext| ext == "toml") {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Whether the version of a mapping matches an interchange's GS08 (`004010` matches
/// `004010` and `004010VICS`).
fn version_matches(mapping: &str, gs08: &str) -> bool {
    gs08.starts_with(mapping)
}

impl MappingSet {
    /// Loads and compiles every mapping file (`*.toml`, recursively) in `dirs`.
    ///
    /// # Errors
    /// Every problem in every file, each with file:line:column; nothing is returned unless
    /// all files load and ids are unique.
    pub fn load(dirs: &[PathBuf]) -> Result<Self, Vec<MappingError>> {
        let mut errors = Vec::new();
        let mut files = Vec::new();
        for dir in dirs {
            match mapping_files(dir) {
                Ok(found) => files.extend(found),
                Err(error) => errors.push(error),
            }
        }
        let mut by_id: BTreeMap<String, Arc<Mapping>> = BTreeMap::new();
        for file in files {
            match load_file(&file) {
                Ok(mapping) => {
                    if let Some(other) = by_id.get(mapping.id()) {
                        errors.push(MappingError {
                            path: file.clone(),
                            line: 1,
                            column: 1,
                            kind: MappingErrorKind::DuplicateId,
                            message: format!(
                                "mapping id {:?} is also defined in {}",
                                mapping.id(),
                                other.path().display()
                            ),
                        });
                    } else {
                        by_id.insert(mapping.id().to_owned(), Arc::new(mapping));
                    }
                }
                Err(found) => errors.extend(found),
            }
        }
        if errors.is_empty() {
            Ok(Self { by_id })
        } else {
            Err(errors)
        }
    }

    /// A set of the given mappings (ids must be unique; a later one replaces an earlier).
    #[must_use]
    pub fn from_mappings(mappings: impl IntoIterator<Item = Mapping>) -> Self {
        Self {
            by_id: mappings
                .into_iter()
                .map(|mapping| (mapping.id().to_owned(), Arc::new(mapping)))
                .collect(),
        }
    }

    /// The mapping with this id.
    #[must_use]
    pub fn by_id(&self, id: &str) -> Option<Arc<Mapping>> {
        self.by_id.get(id).cloned()
    }

    /// Every mapping, by id.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Mapping>> {
        self.by_id.values()
    }

    /// How many mappings.
    #[must_use]
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    fn find(
        &self,
        direction: Direction,
        format: Format,
        x12: Option<(&str, &str)>,
    ) -> Option<Arc<Mapping>> {
        self.by_id
            .values()
            .find(|mapping| {
                mapping.direction() == direction
                    && mapping.format() == format
                    && match (x12, mapping.x12()) {
                        (Some((version, set)), Some(key)) => {
                            key.set == set && version_matches(&key.version, version)
                        }
                        (None, _) => true,
                        (Some(_), None) => false,
                    }
            })
            .cloned()
    }

    /// The first inbound mapping (by id) for `format`; for X12 the one for the version
    /// (GS08) and set (ST01). A partner's route naming a mapping id takes precedence: use
    /// [`by_id`](Self::by_id) then.
    #[must_use]
    pub fn get_inbound(&self, format: Format, x12: Option<(&str, &str)>) -> Option<Arc<Mapping>> {
        self.find(Direction::Inbound, format, x12)
    }

    /// The first outbound mapping (by id) for `format` (and X12 version and set) that
    /// accepts `event_type` (a mapping that declares no events accepts all).
    #[must_use]
    pub fn get_outbound(
        &self,
        format: Format,
        x12: Option<(&str, &str)>,
        event_type: &str,
    ) -> Option<Arc<Mapping>> {
        self.by_id
            .values()
            .filter(|mapping| {
                mapping.events().is_empty() || mapping.events().iter().any(|e| e == event_type)
            })
            .find(|mapping| {
                mapping.direction() == Direction::Outbound
                    && mapping.format() == format
                    && match (x12, mapping.x12()) {
                        (Some((version, set)), Some(key)) => {
                            key.set == set && version_matches(&key.version, version)
                        }
                        (None, _) => true,
                        (Some(_), None) => false,
                    }
            })
            .cloned()
    }
}

/// Loads and compiles every mapping in `dir` (for `transload validate`): every error, each
/// with file:line:column; empty when all is well.
#[must_use]
pub fn validate_dir(dir: &Path) -> Vec<MappingError> {
    match MappingSet::load(&[dir.to_path_buf()]) {
        Ok(_) => Vec::new(),
        Err(errors) => errors,
    }
}
