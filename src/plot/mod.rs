//! Plots as PNG files: line charts of series ([`charts`]: training curves, a sweep's objective
//! per trial or against a parameter, parallel coordinates through [`Chart::x_ticks`]), heatmaps
//! with labelled rows and columns ([`heatmap`]: confusion matrices) and grids of images with a
//! caption, boxes and a mask overlay each ([`image_grid`]: validation predictions).
//!
//! Everything is drawn with `plotters` on its bitmap backend into a buffer of our own, which
//! `image` encodes and [`save_png`] writes atomically (a plot read while training never shows
//! half a file). Text uses a subset of DejaVu Sans compiled into the binary
//! (`assets/fonts/`, through plotters' `ab_glyph` feature), so neither building nor running
//! needs fontconfig or freetype, and every machine draws the same pixels.

mod chart;
mod grid;
mod heatmap;

use std::path::{Path, PathBuf};

use miette::Diagnostic;
use plotters::style::{FontStyle, register_font};

pub use chart::{Chart, Series, Style, charts};
pub use grid::{Outline, Tile, image_grid};
pub use heatmap::{Heatmap, heatmap};

/// A drawn plot: 8-bit RGB pixels.
pub type Canvas = image::RgbImage;

/// The font family every plot uses; registered once, from the bytes in the binary.
const FONT: &str = "sans-serif";

#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum PlotError {
    #[error("cannot draw {what}: {message}")]
    #[diagnostic(code(trainc::plot::draw), help("this is a bug in trainc's plotting; the run itself is unaffected"))]
    Draw { what: &'static str, message: String },

    #[error("cannot write plot `{path}`: {source}")]
    #[diagnostic(code(trainc::plot::write), help("check that the directory is writable and the disk is not full"))]
    Write { path: PathBuf, source: std::io::Error },
}

impl PlotError {
    /// A drawing failure of `what` (plotters' errors are generic over the backend).
    fn draw(what: &'static str) -> impl FnOnce(String) -> PlotError {
        move |message| PlotError::Draw { what, message }
    }
}

/// Registers the compiled-in font with plotters (idempotent).
fn fonts() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        static BYTES: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-subset.ttf");
        // The bytes are a valid font (tests/plot draws text with them); a failure would only
        // leave text out, which plotters reports per call.
        let _ = register_font(FONT, FontStyle::Normal, BYTES);
    });
}

type Area<'a> = plotters::drawing::DrawingArea<plotters::prelude::BitMapBackend<'a>, plotters::coord::Shift>;

/// Draws into a white `w × h` canvas with `draw`, which gets plotters' drawing area.
fn draw_canvas(
    (w, h): (u32, u32),
    what: &'static str,
    draw: impl FnOnce(&Area) -> Result<(), String>,
) -> Result<Canvas, PlotError> {
    draw_on(Canvas::from_pixel(w, h, image::Rgb([255, 255, 255])), what, draw)
}

/// Draws over the pixels of `canvas` with `draw`.
fn draw_on(
    canvas: Canvas,
    what: &'static str,
    draw: impl FnOnce(&Area) -> Result<(), String>,
) -> Result<Canvas, PlotError> {
    use plotters::prelude::*;
    fonts();
    let (w, h) = canvas.dimensions();
    let mut buf = canvas.into_raw();
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        draw(&root).map_err(PlotError::draw(what))?;
        root.present().map_err(|e| PlotError::draw(what)(e.to_string()))?;
    }
    Canvas::from_raw(w, h, buf).ok_or_else(|| PlotError::draw(what)("buffer size".into()))
}

/// The PNG encoding of a canvas.
pub fn png_bytes(canvas: &Canvas) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    // Encoding an in-memory RGB buffer to memory cannot fail.
    let _ = canvas.write_to(&mut out, image::ImageFormat::Png);
    out.into_inner()
}

/// Writes `canvas` to `path` as PNG, atomically (a temporary file and a rename).
pub fn save_png(path: &Path, canvas: &Canvas) -> Result<(), PlotError> {
    crate::run::rundir::write_atomic(path, &png_bytes(canvas))
        .map_err(|source| PlotError::Write { path: path.to_path_buf(), source })
}

/// Colours of series and classes, in order (matplotlib's `tab10`), repeating.
pub fn color(i: usize) -> plotters::style::RGBColor {
    const TAB10: [(u8, u8, u8); 10] = [
        (31, 119, 180),
        (255, 127, 14),
        (44, 160, 44),
        (214, 39, 40),
        (148, 103, 189),
        (140, 86, 75),
        (227, 119, 194),
        (127, 127, 127),
        (188, 189, 34),
        (23, 190, 207),
    ];
    let (r, g, b) = TAB10[i % TAB10.len()];
    plotters::style::RGBColor(r, g, b)
}
