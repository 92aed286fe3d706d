//! Image grids: one tile per image, scaled to fit a square, with a mask overlay blended in,
//! boxes outlined and a caption below (green when the prediction is right, red when wrong).
//! The pixels are composed with `image`; boxes and text are drawn over them with plotters.

use image::imageops::{self, FilterType};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{Canvas, FONT, PlotError, color, draw_on};

/// A box to outline, in the tile image's pixels.
#[derive(Clone, Debug, PartialEq)]
pub struct Outline {
    pub x0: f32,
    pub y0: f32,
    pub x1: f32,
    pub y1: f32,
    /// Drawn above the box.
    pub label: String,
    /// Its colour's index (see [`super::color`]): the class.
    pub color: usize,
    /// A thin outline (ground truth) rather than a thick one (prediction).
    pub thin: bool,
}

/// One image of a grid.
#[derive(Clone, Debug)]
pub struct Tile {
    pub image: Canvas,
    pub caption: String,
    /// Whether the prediction is right: colours the caption (`None`: black).
    pub correct: Option<bool>,
    pub boxes: Vec<Outline>,
    /// A class per pixel of `image` (row-major), blended in its class colour; class 0 is
    /// background and left clear.
    pub mask: Option<Vec<u32>>,
}

/// Side of a tile's image square, and height of its caption line.
const SIDE: u32 = 128;
const CAPTION: u32 = 20;

/// The tiles, `columns` to a row.
pub fn image_grid(tiles: &[Tile], columns: usize) -> Result<Canvas, PlotError> {
    let columns = columns.clamp(1, tiles.len().max(1));
    let rows = tiles.len().div_ceil(columns).max(1);
    let (cw, ch) = (SIDE + 8, SIDE + CAPTION + 8);
    let mut canvas = Canvas::from_pixel(cw * columns as u32, ch * rows as u32, image::Rgb([255, 255, 255]));
    let mut placed = Vec::new();
    for (i, tile) in tiles.iter().enumerate() {
        let (x, y) = ((i % columns) as u32 * cw + 4, (i / columns) as u32 * ch + 4);
        let (img, scale) = fitted(tile);
        imageops::overlay(&mut canvas, &img, x as i64, y as i64);
        placed.push((tile, x as i32, y as i32, scale, img.height() as i32));
    }
    draw_on(canvas, "an image grid", |root| {
        for (tile, x, y, scale, h) in placed {
            draw_tile(root, tile, (x, y), scale, h)?;
        }
        Ok(())
    })
}

/// The tile's image with its mask blended in, scaled to fit the square; and the scale.
fn fitted(tile: &Tile) -> (Canvas, f32) {
    let mut img = tile.image.clone();
    if let Some(mask) = &tile.mask {
        blend(&mut img, mask);
    }
    let (w, h) = img.dimensions();
    let scale = SIDE as f32 / w.max(h).max(1) as f32;
    let (nw, nh) = (((w as f32 * scale).round() as u32).max(1), ((h as f32 * scale).round() as u32).max(1));
    // Nearest keeps small images (28×28) sharp and masks' edges exact.
    (imageops::resize(&img, nw, nh, FilterType::Nearest), scale)
}

/// Blends each labelled pixel half-way towards its class colour.
fn blend(img: &mut Canvas, mask: &[u32]) {
    for (px, &class) in img.pixels_mut().zip(mask) {
        if class == 0 {
            continue;
        }
        let RGBColor(r, g, b) = color(class as usize);
        for (c, m) in px.0.iter_mut().zip([r, g, b]) {
            *c = ((*c as u16 + m as u16) / 2) as u8;
        }
    }
}

fn draw_tile(root: &super::Area, tile: &Tile, (x, y): (i32, i32), scale: f32, h: i32) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<_>| e.to_string();
    for b in &tile.boxes {
        let p = |v: f32| (v * scale).round() as i32;
        let corners = [(x + p(b.x0), y + p(b.y0)), (x + p(b.x1), y + p(b.y1))];
        let col = color(b.color);
        let width = if b.thin { 1 } else { 2 };
        root.draw(&Rectangle::new(corners, col.stroke_width(width))).map_err(err)?;
        if !b.label.is_empty() {
            let style = (FONT, 10).into_font().color(&col).pos(Pos::new(HPos::Left, VPos::Bottom));
            root.draw_text(&b.label, &style, (corners[0].0, corners[0].1 - 1)).map_err(err)?;
        }
    }
    let ink = match tile.correct {
        Some(true) => RGBColor(20, 130, 40),
        Some(false) => RGBColor(200, 30, 30),
        None => BLACK,
    };
    let style = (FONT, 12).into_font().color(&ink).pos(Pos::new(HPos::Center, VPos::Top));
    root.draw_text(&tile.caption, &style, (x + SIDE as i32 / 2, y + h + 3)).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_tint_labelled_pixels_only() {
        let mut img = Canvas::from_pixel(2, 1, image::Rgb([0, 0, 0]));
        blend(&mut img, &[0, 1]);
        assert_eq!(img.get_pixel(0, 0).0, [0, 0, 0]);
        let RGBColor(r, g, b) = color(1);
        assert_eq!(img.get_pixel(1, 0).0, [r / 2, g / 2, b / 2]);
    }

    #[test]
    fn tiles_fit_the_square() {
        let tile =
            Tile { image: Canvas::new(28, 14), caption: String::new(), correct: None, boxes: vec![], mask: None };
        let (img, scale) = fitted(&tile);
        assert_eq!(img.dimensions(), (SIDE, SIDE / 2));
        assert!((scale - SIDE as f32 / 28.0).abs() < 1e-6);
    }
}
