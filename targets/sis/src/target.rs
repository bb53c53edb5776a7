//! The SIS package target: photos staged during the run, the package written in `finish`.
//!
//! `put_photo` writes each photo into a staging folder under `dir` (memory holds only names,
//! sizes and hashes), so a district of 40,000 students does not need 40,000 photos in RAM.
//! `finish` writes the zip(s), the PowerSchool map and the manifest, each under a temporary
//! name then renamed, and empties the staging folder. Nothing is written in a dry run (the
//! engine does not call `finish` then, and the dry-run layer never calls `put_photo`).
//!
//! A package must hold everyone whose photo the target should have, whichever part of the
//! mapping a run sent (unchanged people are not sent again; `--only` sends a few; a run may be
//! interrupted). So a package is cumulative: `finish` carries over every photo of the package
//! committed before (checked against its manifest's BLAKE3) that this run did not replace, and
//! the target declares `commits_at_finish`, so that the engine records a staged photo as sent
//! only once the package holding it is committed and asks [`Target::holds`] before it trusts
//! an unchanged photo to be in the package. Staging folders that killed runs left are removed.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use picday_core::{
    CheckReport, Error, Person, Photo, Profile, Receipt, Result, Subject, Target, TargetInfo,
    TargetIo, Template,
};

use crate::config::Settings;
use crate::package::{
    Manifest, ManifestEntry, ManifestLeftOut, Pending, ZipItem, check_id, plan_parts,
    powerschool_map, write_zip,
};

/// The start of a staging folder's name; tempfile adds random letters and digits.
fn staging_prefix(package: &str) -> String {
    format!(".picday-staging-{package}-")
}

/// The three SIS products.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    PowerSchool,
    InfiniteCampus,
    Aeries,
}

impl Kind {
    /// The `type = "..."` name.
    pub fn type_name(self) -> &'static str {
        match self {
            Kind::PowerSchool => "powerschool",
            Kind::InfiniteCampus => "infinite-campus",
            Kind::Aeries => "aeries",
        }
    }
}

/// PowerSchool imports staff separately, keyed by TeacherNumber: who is staff, and their id.
#[derive(Debug, Clone)]
pub struct Staff {
    pub id: Template,
    /// Lower-case column name.
    pub column: String,
    /// Compared without case.
    pub value: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Group {
    Students,
    Staff,
}

impl Group {
    fn as_str(self) -> &'static str {
        match self {
            Group::Students => "students",
            Group::Staff => "staff",
        }
    }

    fn parse(s: &str) -> Option<Group> {
        [Group::Students, Group::Staff]
            .into_iter()
            .find(|g| g.as_str() == s)
    }
}

/// A photo's place in a package: its group and file name.
type PackageKey = (Group, String);

/// The package committed before this run: its entries by group and file name. Empty when
/// there is none, or when it was keyed or shaped otherwise (nothing of it is carried over).
#[derive(Debug, Default)]
struct Previous {
    entries: BTreeMap<PackageKey, ManifestEntry>,
}

/// One photo of the package being written, staged by this run or carried over.
#[derive(Debug)]
struct Entry {
    id: String,
    person: String,
    source: String,
    bytes: usize,
    hash: String,
}

#[derive(Debug)]
struct Staged {
    id: String,
    person: Arc<Person>,
    bytes: usize,
    hash: String,
    /// Other people given the same id: none of them is packaged.
    conflicts: Vec<Arc<Person>>,
}

#[derive(Debug, Default)]
struct State {
    staging: Option<tempfile::TempDir>,
    staged: BTreeMap<(Group, String), Staged>,
    left_out: Vec<ManifestLeftOut>,
    /// The committed package, read once (an unreadable manifest: why).
    previous: Option<std::result::Result<Arc<Previous>, (picday_core::ErrorKind, String)>>,
}

impl State {
    fn leave_out(&mut self, person: &Person, id: Option<String>, reason: String) {
        let entry = ManifestLeftOut {
            source: person.origin.to_string(),
            person: person.label(),
            id,
            reason,
        };
        if !self.left_out.contains(&entry) {
            self.left_out.push(entry);
        }
    }
}

/// A PowerSchool, Infinite Campus or Aeries package.
#[derive(Debug)]
pub struct SisTarget {
    info: Arc<TargetInfo>,
    settings: Settings,
    state: Arc<Mutex<State>>,
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

/// How to take photos down in the SIS itself: an import package can only add photos, and
/// the next package simply leaves a removed person out.
fn delete_advice(kind: Kind, vendor: &str) -> String {
    let how = match kind {
        // ps.powerschool-docs.com/pssis-admin/latest/photo-management: "Using the Import
        // Pictures function, you can manage student and/or staff photos making uploading or
        // deleting photos fast and easy."
        Kind::PowerSchool => {
            "delete them in PowerSchool's Photo Management (the Import Pictures page also \
             deletes photos)"
        }
        Kind::InfiniteCampus | Kind::Aeries => {
            "remove the picture on each person's record in the SIS"
        }
    };
    format!(
        "an import package for {vendor} can only add photos: {how}. Packages are cumulative: \
         to drop someone's photo from the package too, move the package files aside and push \
         again"
    )
}

impl SisTarget {
    pub fn new(settings: Settings) -> Self {
        let s = &settings;
        let vendor = match s.kind {
            Kind::PowerSchool => "PowerSchool",
            Kind::InfiniteCampus => "Infinite Campus",
            Kind::Aeries => "Aeries",
        };
        let mut info = TargetInfo::new(&s.name, s.kind.type_name(), s.id.clone(), s.profile)
            .summary(format!(
                "{vendor} package {} in {} as {}.jpg",
                s.package,
                s.dir.display(),
                s.id
            ))
            .setting("dir", s.dir.display())
            .setting("package", &s.package)
            .setting("max_zip_bytes", s.max_zip_bytes)
            .other_keys(s.staff.iter().map(|st| st.id.clone()))
            .max_concurrency(4)
            .commits_at_finish()
            .delete_advice(delete_advice(s.kind, vendor))
            .place(format!(
                "{} package {}",
                picday_core::target::folder_place(&s.dir),
                s.package
            ));
        if let Some(staff) = &s.staff {
            info = info
                .setting("staff_column", &staff.column)
                .setting("staff_value", &staff.value);
        }
        SisTarget {
            info: Arc::new(info),
            settings,
            state: Arc::new(Mutex::new(State::default())),
        }
    }

    /// Another handle on the same target and package state, for a blocking worker.
    fn handle(&self) -> SisTarget {
        SisTarget {
            info: self.info.clone(),
            settings: self.settings.clone(),
            state: self.state.clone(),
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The files of a package written for this target, in `dir`: the zip(s) (and for
    /// PowerSchool the map) of each group, then the manifest.
    pub fn manifest_path(&self) -> PathBuf {
        self.settings
            .dir
            .join(format!("{}.manifest.json", self.settings.package))
    }

    /// Staff are those whose `staff_column` holds `staff_value`, and those a source marked as
    /// staff (`role = staff`: a PSPA row whose grade or title says `Faculty`, `Teacher`...).
    fn group_of(&self, person: &Person) -> Group {
        match &self.settings.staff {
            Some(s)
                if person
                    .field(&s.column)
                    .is_some_and(|v| v.eq_ignore_ascii_case(s.value.trim()))
                    || person
                        .field(picday_core::source::pspa::ROLE_FIELD)
                        .is_some_and(|v| v.eq_ignore_ascii_case("staff")) =>
            {
                Group::Staff
            }
            _ => Group::Students,
        }
    }

    /// The group and id of a person, refusing ids that are not safe file names.
    fn resolve(&self, person: &Person) -> Result<(Group, String)> {
        let group = self.group_of(person);
        let template = match (group, &self.settings.staff) {
            (Group::Staff, Some(s)) => &s.id,
            _ => &self.settings.id,
        };
        let id = template.render(person)?;
        check_id(&id)?;
        Ok((group, id))
    }

    fn base(&self, group: Group) -> String {
        match group {
            Group::Students => self.settings.package.clone(),
            Group::Staff => format!("{}-staff", self.settings.package),
        }
    }

    fn stage(&self, person: &Arc<Person>, group: Group, id: String, photo: &Photo) -> Result<()> {
        let file = format!("{id}.jpg");
        let mut state = lock(&self.state);
        self.staging(&mut state)?;
        if let Some(existing) = state.staged.get_mut(&(group, file.clone()))
            && *existing.person != **person
        {
            let other = format!("{} ({})", existing.person.label(), existing.person.origin);
            if !existing.conflicts.iter().any(|p| **p == **person) {
                existing.conflicts.push(person.clone());
            }
            return Err(Error::rejected(format!(
                "id {id} is also given to {other}; neither photo is packaged"
            )));
        }
        let staging = state
            .staging
            .as_ref()
            .map(|d| d.path().join(group.as_str()))
            .ok_or_else(|| Error::internal("no staging folder"))?;
        std::fs::create_dir_all(&staging).map_err(|e| Error::io(&staging, e))?;
        let mut tmp =
            tempfile::NamedTempFile::new_in(&staging).map_err(|e| Error::io(&staging, e))?;
        std::io::Write::write_all(&mut tmp, &photo.bytes).map_err(|e| Error::io(tmp.path(), e))?;
        let path = staging.join(&file);
        tmp.persist(&path).map_err(|e| Error::io(&path, e.error))?;
        state.staged.insert(
            (group, file),
            Staged {
                id,
                person: person.clone(),
                bytes: photo.len(),
                hash: photo.hash(),
                conflicts: Vec::new(),
            },
        );
        Ok(())
    }

    /// This run's staging folder, made on first use.
    fn staging(&self, state: &mut State) -> Result<PathBuf> {
        if let Some(d) = &state.staging {
            return Ok(d.path().to_path_buf());
        }
        let dir = &self.settings.dir;
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let staging = tempfile::Builder::new()
            .prefix(&staging_prefix(&self.settings.package))
            .tempdir_in(dir)
            .map_err(|e| Error::io(dir, e))?;
        let path = staging.path().to_path_buf();
        state.staging = Some(staging);
        Ok(path)
    }

    /// Removes the staging folders of this package that earlier, killed runs left in `dir`
    /// (not this run's). Best effort: a folder that cannot be removed is tried next time.
    fn sweep_staging(&self, ours: Option<&Path>) {
        let prefix = staging_prefix(&self.settings.package);
        let Ok(entries) = std::fs::read_dir(&self.settings.dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            // Another package's folder ("<package>-staff-...") has a `-` after the prefix.
            let stale = name
                .strip_prefix(&prefix)
                .is_some_and(|rest| !rest.is_empty() && !rest.contains('-'));
            let path = entry.path();
            if stale && Some(path.as_path()) != ours && entry.file_type().is_ok_and(|t| t.is_dir())
            {
                let _ = std::fs::remove_dir_all(&path);
            }
        }
    }

    /// How this target keys people, as written in the manifest (see [`Manifest::ids`]).
    fn ids(&self) -> String {
        let s = &self.settings;
        match &s.staff {
            Some(st) => format!(
                "id={}; staff_id={}; staff_column={}; staff_value={}",
                s.id, st.id, st.column, st.value
            ),
            None => format!("id={}", s.id),
        }
    }

    /// The committed package, read once per run; blocking.
    fn previous(&self, state: &mut State) -> Result<Arc<Previous>> {
        if state.previous.is_none() {
            state.previous = Some(
                self.read_previous()
                    .map(Arc::new)
                    .map_err(|e| (e.kind(), e.message().to_string())),
            );
        }
        match &state.previous {
            Some(Ok(p)) => Ok(p.clone()),
            Some(Err((kind, message))) => Err(Error::new(*kind, message.clone())),
            None => Err(Error::internal("the earlier package was not read")),
        }
    }

    fn read_previous(&self) -> Result<Previous> {
        let path = self.manifest_path();
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Previous::default()),
            Err(e) => return Err(Error::io(&path, e)),
        };
        let m: Manifest = serde_json::from_slice(&bytes).map_err(|e| {
            Error::input(format!(
                "{}: the manifest of the earlier package cannot be read ({e}), so its photos cannot be carried over; move the package files aside and push again to write it afresh",
                path.display()
            ))
        })?;
        let same = m.type_name == self.settings.kind.type_name()
            && m.profile == self.settings.profile.to_string()
            && m.ids == self.ids();
        if !same {
            // Keyed or shaped otherwise: this run sends everyone again and replaces it.
            return Ok(Previous::default());
        }
        let entries = m
            .included
            .into_iter()
            .filter_map(|e| Some(((Group::parse(&e.group)?, e.file.clone()), e)))
            .collect();
        Ok(Previous { entries })
    }

    /// Copies the photos of the committed package that this run did not replace into the
    /// staging folder, each checked against the BLAKE3 its manifest recorded.
    fn carry_over(&self, state: &mut State, staging: &Path) -> Result<Vec<(Group, String, Entry)>> {
        let previous = self.previous(state)?;
        let mut by_zip: BTreeMap<&str, Vec<(&PackageKey, &ManifestEntry)>> = BTreeMap::new();
        for (key, entry) in &previous.entries {
            if !state.staged.contains_key(key) {
                by_zip
                    .entry(entry.package.as_str())
                    .or_default()
                    .push((key, entry));
            }
        }
        let mut carried = Vec::new();
        for (zip_name, entries) in by_zip {
            let path = self.settings.dir.join(zip_name);
            let broken = |why: String| {
                Error::input(format!(
                    "{}: {why}; the earlier package's photos cannot be carried over, so no package was written. Move {} and its package files aside and push again to write it afresh",
                    path.display(),
                    self.manifest_path().display()
                ))
            };
            let file = std::fs::File::open(&path).map_err(|e| broken(e.to_string()))?;
            let mut zip = zip::ZipArchive::new(file).map_err(|e| broken(e.to_string()))?;
            for ((group, name), entry) in entries {
                let mut bytes = Vec::new();
                let mut f = zip
                    .by_name(name)
                    .map_err(|e| broken(format!("{name}: {e}")))?;
                std::io::Read::read_to_end(&mut f, &mut bytes)
                    .map_err(|e| broken(format!("{name}: {e}")))?;
                let hash = blake3::hash(&bytes).to_hex().to_string();
                if hash != entry.blake3 {
                    return Err(broken(format!(
                        "{name} is not the photo its manifest lists"
                    )));
                }
                let folder = staging.join(group.as_str());
                std::fs::create_dir_all(&folder).map_err(|e| Error::io(&folder, e))?;
                let target = folder.join(name);
                std::fs::write(&target, &bytes).map_err(|e| Error::io(&target, e))?;
                carried.push((
                    *group,
                    name.clone(),
                    Entry {
                        id: entry.id.clone(),
                        person: entry.person.clone(),
                        source: entry.source.clone(),
                        bytes: bytes.len(),
                        hash,
                    },
                ));
            }
        }
        Ok(carried)
    }

    /// Writes the package from the staged photos and those of the committed package this run
    /// did not replace; blocking.
    fn write_package(&self) -> Result<Option<String>> {
        let mut state = lock(&self.state);
        let ours = state.staging.as_ref().map(|d| d.path().to_path_buf());
        self.sweep_staging(ours.as_deref());
        if state.staged.is_empty() && state.left_out.is_empty() {
            // Nothing new: the committed package stays as it is.
            return Ok(None);
        }
        let staging = self.staging(&mut state)?;
        let dir = self.settings.dir.clone();
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let carried = self.carry_over(&mut state, &staging)?;
        let mut left_out = state.left_out.clone();
        let mut groups: BTreeMap<Group, Vec<(ZipItem, Entry)>> = BTreeMap::new();
        let item = |group: Group, file: &str, size: usize| ZipItem {
            name: file.to_string(),
            source: staging.join(group.as_str()).join(file),
            size: size as u64,
        };
        for (group, file, entry) in carried {
            let zip_item = item(group, &file, entry.bytes);
            groups.entry(group).or_default().push((zip_item, entry));
        }
        for ((group, file), staged) in &state.staged {
            if !staged.conflicts.is_empty() {
                for p in std::iter::once(&staged.person).chain(&staged.conflicts) {
                    left_out.push(ManifestLeftOut {
                        source: p.origin.to_string(),
                        person: p.label(),
                        id: Some(staged.id.clone()),
                        reason: format!(
                            "id {} is given to {} people; none is packaged",
                            staged.id,
                            staged.conflicts.len() + 1
                        ),
                    });
                }
                continue;
            }
            let entry = Entry {
                id: staged.id.clone(),
                person: staged.person.label(),
                source: staged.person.origin.to_string(),
                bytes: staged.bytes,
                hash: staged.hash.clone(),
            };
            groups
                .entry(*group)
                .or_default()
                .push((item(*group, file, staged.bytes), entry));
        }
        for entries in groups.values_mut() {
            entries.sort_by(|a, b| a.0.name.cmp(&b.0.name));
        }

        let mut manifest = Manifest {
            picday: env!("CARGO_PKG_VERSION").into(),
            target: self.settings.name.clone(),
            type_name: self.settings.kind.type_name().into(),
            profile: self.settings.profile.to_string(),
            ids: self.ids(),
            ..Manifest::default()
        };
        let mut pending = Vec::new();
        for (group, entries) in &groups {
            let base = self.base(*group);
            let by_name: BTreeMap<&str, &Entry> =
                entries.iter().map(|e| (e.0.name.as_str(), &e.1)).collect();
            let items: Vec<ZipItem> = entries.iter().map(|e| e.0.clone()).collect();
            let (parts, too_big) = plan_parts(items, self.settings.max_zip_bytes);
            for item in too_big {
                let entry = by_name[item.name.as_str()];
                left_out.push(ManifestLeftOut {
                    source: entry.source.clone(),
                    person: entry.person.clone(),
                    id: Some(entry.id.clone()),
                    reason: format!(
                        "the photo ({} bytes) does not fit in a zip of {} bytes",
                        item.size, self.settings.max_zip_bytes
                    ),
                });
            }
            let count = parts.len();
            for (n, part) in parts.iter().enumerate() {
                let zip_name = if count == 1 {
                    format!("{base}.zip")
                } else {
                    format!("{base}-part{}.zip", n + 1)
                };
                let mut file = Pending::new(&staging, &dir, &zip_name)?;
                let path = file.path().to_path_buf();
                let size = write_zip(file.file(), &path, part)?;
                if size > self.settings.max_zip_bytes {
                    return Err(Error::internal(format!(
                        "{zip_name} is {size} bytes, over the {} byte limit",
                        self.settings.max_zip_bytes
                    )));
                }
                pending.push(file);
                manifest.files.push(zip_name.clone());
                for item in part {
                    let entry = by_name[item.name.as_str()];
                    manifest.included.push(ManifestEntry {
                        id: entry.id.clone(),
                        file: item.name.clone(),
                        package: zip_name.clone(),
                        group: group.as_str().into(),
                        person: entry.person.clone(),
                        source: entry.source.clone(),
                        bytes: entry.bytes,
                        blake3: entry.hash.clone(),
                    });
                }
            }
            // PowerSchool imports one zip with its map at a time: each part has its own map
            // (`<base>-part2.txt` beside `<base>-part2.zip`).
            if self.settings.kind == Kind::PowerSchool {
                for (n, part) in parts.iter().enumerate() {
                    let rows: Vec<(String, String)> = part
                        .iter()
                        .map(|item| (by_name[item.name.as_str()].id.clone(), item.name.clone()))
                        .collect();
                    let map_name = if count == 1 {
                        format!("{base}.txt")
                    } else {
                        format!("{base}-part{}.txt", n + 1)
                    };
                    let mut file = Pending::new(&staging, &dir, &map_name)?;
                    let path = file.path().to_path_buf();
                    std::io::Write::write_all(file.file(), &powerschool_map(&rows))
                        .map_err(|e| Error::io(&path, e))?;
                    pending.push(file);
                    manifest.files.push(map_name);
                }
            }
        }
        left_out.sort();
        left_out.dedup();
        manifest.left_out = left_out;
        let manifest_name = format!("{}.manifest.json", self.settings.package);
        let mut file = Pending::new(&staging, &dir, &manifest_name)?;
        let path = file.path().to_path_buf();
        let mut json = serde_json::to_vec_pretty(&manifest)
            .map_err(|e| Error::internal(format!("manifest: {e}")))?;
        json.push(b'\n');
        std::io::Write::write_all(file.file(), &json).map_err(|e| Error::io(&path, e))?;
        pending.push(file);

        for file in pending {
            file.commit()?;
        }
        self.remove_stale(&dir, &manifest.files)?;

        // The package is written: the staging folder goes (a next run makes its own and
        // reads the package just written as the one to carry over).
        if let Some(folder) = state.staging.take() {
            folder.close().map_err(|e| Error::io(&staging, e))?;
        }
        state.staged.clear();
        state.left_out.clear();
        state.previous = None;
        Ok(Some(format!(
            "wrote {} in {}: {} photos, {} left out (see {manifest_name})",
            manifest.files.join(", "),
            dir.display(),
            manifest.included.len(),
            manifest.left_out.len()
        )))
    }

    /// Removes package files of this target that the new package does not have any more (a
    /// part 3 from a bigger earlier run, a staff package when there are no staff now).
    fn remove_stale(&self, dir: &Path, current: &[String]) -> Result<()> {
        let mut bases = vec![self.base(Group::Students)];
        if self.settings.staff.is_some() {
            bases.push(self.base(Group::Staff));
        }
        let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if current.contains(&name) {
                continue;
            }
            let powerschool = self.settings.kind == Kind::PowerSchool;
            let ours = bases.iter().any(|b| {
                let part = |ext: &str| {
                    name.strip_prefix(&format!("{b}-part"))
                        .and_then(|r| r.strip_suffix(ext))
                        .is_some_and(|n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()))
                };
                name == format!("{b}.zip")
                    || (powerschool && name == format!("{b}.txt"))
                    || part(".zip")
                    || (powerschool && part(".txt"))
            });
            if ours {
                let path = entry.path();
                std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
            }
        }
        Ok(())
    }
}

impl Target for SisTarget {
    fn info(&self) -> &TargetInfo {
        &self.info
    }

    fn subject(&self, person: Arc<Person>) -> Result<Subject> {
        match self.resolve(&person) {
            Ok((_, id)) => Ok(Subject::new(id, person)),
            Err(e) => {
                lock(&self.state).leave_out(&person, None, e.message().to_string());
                Err(e)
            }
        }
    }

    /// Whether the committed package has a photo under this person's id (and its zip is
    /// there); an unreadable manifest holds nothing.
    fn holds(&self, subject: &Subject) -> bool {
        let group = self.group_of(&subject.person);
        let mut state = lock(&self.state);
        let Ok(previous) = self.previous(&mut state) else {
            return false;
        };
        previous
            .entries
            .get(&(group, format!("{}.jpg", subject.key)))
            .is_some_and(|e| self.settings.dir.join(&e.package).is_file())
    }
}

#[async_trait]
impl TargetIo for SisTarget {
    async fn check(&self) -> Result<CheckReport> {
        let s = self.settings.clone();
        let mut report = CheckReport::default();
        let dir = s.dir.clone();
        let writable = tokio::task::spawn_blocking(move || -> Result<String> {
            if dir.is_dir() {
                tempfile::NamedTempFile::new_in(&dir)
                    .map_err(|e| Error::io(&dir, e).prefixed("the folder is not writable"))?;
                Ok(format!("{} is writable", dir.display()))
            } else if dir.exists() {
                Err(Error::config(format!("{} is not a folder", dir.display())))
            } else {
                Ok(format!("{} will be created", dir.display()))
            }
        })
        .await
        .unwrap_or_else(|e| Err(Error::internal(format!("check worker failed: {e}"))))?;
        report.ok.push(writable);
        report.ok.push(format!(
            "photos {}, named <id>.jpg from {}",
            s.profile, s.id
        ));
        let Profile { width, height, .. } = s.profile;
        if width >= height {
            report.warnings.push(format!(
                "{width}x{height} is not a portrait shape; SIS photo slots are 2:3 or 4:5"
            ));
        }
        if s.kind == Kind::InfiniteCampus {
            if width * 3 != height * 2 {
                report.warnings.push(format!(
                    "Infinite Campus shows every photo at 175x263 (2:3); {width}x{height} is not 2:3 (try width = 200, height = 300)"
                ));
            }
            if s.profile
                .max_bytes
                .is_none_or(|m| m > crate::config::IC_MAX_BYTES)
            {
                report.warnings.push(
                    "Infinite Campus refuses files over its upload limit (3 MB by default); set max_bytes".into(),
                );
            }
        }
        if s.kind == Kind::Aeries
            && s.profile
                .max_bytes
                .is_none_or(|m| m > crate::config::AERIES_MAX_BYTES)
        {
            report.warnings.push(format!(
                "Aeries refuses pictures over 100 KB by default (its maximum picture size, {}); max_bytes is {}: set max_bytes = {} unless your district raised the limit",
                crate::config::vendor_source(s.kind),
                s.profile
                    .max_bytes
                    .map_or("not set".to_string(), |m| m.to_string()),
                crate::config::AERIES_MAX_BYTES
            ));
        }
        if s.max_zip_bytes != u64::MAX {
            report.ok.push(format!(
                "zips split into numbered parts of at most {} bytes",
                s.max_zip_bytes
            ));
        }
        Ok(report)
    }

    async fn put_photo(&self, subject: &Subject, photo: &Photo) -> Result<Receipt> {
        let person = subject.person.clone();
        // Resolved again rather than trusting the key: the layers may have rendered it
        // with the plain template.
        let (group, id) = match self.resolve(&person) {
            Ok(r) => r,
            Err(e) => {
                lock(&self.state).leave_out(&person, None, e.message().to_string());
                return Err(e);
            }
        };
        let this = self.handle();
        let photo = photo.clone();
        let file = format!("{id}.jpg");
        let base = self.base(group);
        tokio::task::spawn_blocking(move || this.stage(&person, group, id, &photo))
            .await
            .unwrap_or_else(|e| Err(Error::internal(format!("staging worker failed: {e}"))))?;
        Ok(Receipt::new(format!(
            "staged as {file} for {base}; the package is written at the end of the run"
        )))
    }

    async fn finish(&self) -> Result<Option<String>> {
        let this = self.handle();
        tokio::task::spawn_blocking(move || this.write_package())
            .await
            .unwrap_or_else(|e| Err(Error::internal(format!("package worker failed: {e}"))))
    }
}
