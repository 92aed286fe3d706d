//! Unreadable images: each split's source is wrapped so a file that cannot be read or decoded
//! is reported with its split (`DataError::Unreadable`), or, with the dataset's
//! `skip_bad = true`, left out of the split when it is opened, with a warning and a count.

use std::path::PathBuf;
use std::sync::Arc;

use super::augment::{BoxLabel, Image};
use super::source::{DataError, Source};

/// A split's source that names the split in its read errors, keeping only the samples listed.
pub struct Named {
    base: Arc<dyn Source>,
    split: String,
    /// The samples kept, by index into `base`; `None` for all of them.
    kept: Option<Vec<usize>>,
}

/// What `skip_bad` left out of a split: how many samples, and the first with why.
#[derive(Debug, Default)]
pub struct Skipped {
    pub count: usize,
    pub first: Option<(PathBuf, String)>,
}

/// The file and message of an error that makes a sample unreadable; other errors (a mask that
/// does not fit, a class id past the list) are the data's content, never skipped.
fn unreadable(error: &DataError) -> Option<(PathBuf, String)> {
    match error {
        DataError::Decode { path, message } => Some((path.clone(), message.clone())),
        DataError::Io { path, source } => Some((path.clone(), source.to_string())),
        _ => None,
    }
}

impl Named {
    /// Wraps a split; with `skip_bad`, decodes every image once (on `workers` threads) and
    /// keeps those that read, returning what it left out.
    pub fn new(base: Arc<dyn Source>, split: &str, skip_bad: bool, workers: usize) -> (Named, Skipped) {
        let mut skipped = Skipped::default();
        let kept = skip_bad.then(|| {
            let n = base.len();
            let per = n.div_ceil(workers.max(1)).max(1);
            let verdicts: Vec<Option<(PathBuf, String)>> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..n)
                    .collect::<Vec<_>>()
                    .chunks(per)
                    .map(|part| {
                        let (base, part) = (&base, part.to_vec());
                        s.spawn(move || {
                            part.into_iter()
                                .map(|i| base.image(i).err().and_then(|e| unreadable(&e)))
                                .collect::<Vec<_>>()
                        })
                    })
                    .collect();
                handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
            });
            let mut kept = Vec::with_capacity(n);
            for (i, verdict) in verdicts.into_iter().enumerate() {
                match verdict {
                    None => kept.push(i),
                    Some(bad) => {
                        skipped.count += 1;
                        skipped.first.get_or_insert(bad);
                    }
                }
            }
            kept
        });
        (Named { base, split: split.to_string(), kept }, skipped)
    }

    fn index(&self, i: usize) -> usize {
        self.kept.as_ref().map_or(i, |k| k[i])
    }

    fn named(&self, error: DataError) -> DataError {
        match unreadable(&error) {
            Some((path, message)) => DataError::Unreadable { split: self.split.clone(), path, message },
            None => error,
        }
    }
}

impl Source for Named {
    fn len(&self) -> usize {
        self.kept.as_ref().map_or(self.base.len(), Vec::len)
    }
    fn label(&self, index: usize) -> usize {
        self.base.label(self.index(index))
    }
    fn image(&self, index: usize) -> Result<Image, DataError> {
        self.base.image(self.index(index)).map_err(|e| self.named(e))
    }
    fn mask(&self, index: usize) -> Result<Option<Image>, DataError> {
        self.base.mask(self.index(index)).map_err(|e| self.named(e))
    }
    fn boxes(&self, index: usize) -> Option<Vec<BoxLabel>> {
        self.base.boxes(self.index(index))
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;

    /// Samples 1 and 3 of five cannot be decoded.
    struct Flaky;

    impl Source for Flaky {
        fn len(&self) -> usize {
            5
        }
        fn label(&self, index: usize) -> usize {
            index
        }
        fn image(&self, index: usize) -> Result<Image, DataError> {
            if index % 2 == 1 {
                return Err(DataError::Decode { path: format!("{index}.png").into(), message: "truncated".into() });
            }
            Ok(Image { c: 1, h: 1, w: 1, data: vec![index as f32] })
        }
    }

    #[test]
    fn unreadable_images_name_their_split_or_are_skipped_and_counted() {
        let (named, skipped) = Named::new(Arc::new(Flaky), "val", false, 2);
        assert_eq!((named.len(), skipped.count), (5, 0));
        let error = named.image(3).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains("split `val`") && error.contains("3.png") && error.contains("truncated"), "{error}");
        let (kept, skipped) = Named::new(Arc::new(Flaky), "train", true, 2);
        assert_eq!((kept.len(), skipped.count), (3, 2));
        assert_eq!(skipped.first.map(|(p, _)| p), Some(PathBuf::from("1.png")));
        assert_eq!((0..3).map(|i| kept.label(i)).collect::<Vec<_>>(), [0, 2, 4]);
    }
}
