//! Heatmaps with labelled rows and columns (confusion matrices), laid out by hand in pixels:
//! plotters' numeric axes put ticks at round numbers, and a class name belongs at a cell's centre.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{Area, Canvas, FONT, PlotError, draw_canvas};

/// A matrix of values in `[0, 1]` (the colour) with a label per row and column and, optionally,
/// a text per cell.
#[derive(Clone, Debug, Default)]
pub struct Heatmap {
    pub title: String,
    pub rows: Vec<String>,
    pub columns: Vec<String>,
    /// What the rows and the columns are (`true`, `predicted`).
    pub row_label: String,
    pub column_label: String,
    /// `values[row][column]`, clamped to `[0, 1]`.
    pub values: Vec<Vec<f64>>,
    /// `text[row][column]`, drawn in the cell (counts, percentages).
    pub text: Option<Vec<Vec<String>>>,
}

impl Heatmap {
    /// A confusion matrix (`m[actual][predicted]` counts): coloured by each row's fraction (the
    /// recall, as Ultralytics normalises), annotated with the counts.
    pub fn confusion(title: impl Into<String>, classes: &[String], m: &[Vec<u64>]) -> Heatmap {
        let values = m
            .iter()
            .map(|row| {
                let total = row.iter().sum::<u64>().max(1) as f64;
                row.iter().map(|&n| n as f64 / total).collect()
            })
            .collect();
        Heatmap {
            title: title.into(),
            rows: classes.to_vec(),
            columns: classes.to_vec(),
            row_label: "true".into(),
            column_label: "predicted".into(),
            values,
            text: Some(m.iter().map(|row| row.iter().map(u64::to_string).collect()).collect()),
        }
    }
}

/// matplotlib's `Blues`, from its lightest to its darkest colour.
fn blues(v: f64) -> RGBColor {
    let v = if v.is_finite() { v.clamp(0.0, 1.0) } else { 0.0 };
    let mix = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * v).round() as u8;
    RGBColor(mix(247, 8), mix(251, 48), mix(255, 107))
}

/// Pixel sizes of the layout: cell side, left margin (row labels), bottom margin (column labels).
struct Layout {
    cell: i32,
    left: i32,
    top: i32,
    bottom: i32,
    rotate: bool,
}

fn layout(map: &Heatmap, text_width: impl Fn(&str) -> i32) -> Layout {
    let n = map.rows.len().max(map.columns.len()).max(1) as i32;
    let cell = (640 / n).clamp(14, 64);
    let widest = |labels: &[String]| labels.iter().map(|l| text_width(l)).max().unwrap_or(0);
    let rotate = widest(&map.columns) > cell - 4;
    let bottom = if rotate { widest(&map.columns) + 40 } else { 44 };
    Layout { cell, left: widest(&map.rows) + 44, top: 44, bottom, rotate }
}

/// The heatmap, sized to its labels.
pub fn heatmap(map: &Heatmap) -> Result<Canvas, PlotError> {
    super::fonts();
    let label = (FONT, 13).into_font();
    let width = |s: &str| label.box_size(s).map_or(s.len() as i32 * 8, |(w, _)| w as i32);
    let l = layout(map, width);
    let (nr, nc) = (map.rows.len() as i32, map.columns.len() as i32);
    let w = (l.left + nc * l.cell + 24).max(width(&map.title) + 40);
    let h = l.top + nr * l.cell + l.bottom;
    draw_canvas((w as u32, h as u32), "a heatmap", |root| {
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        draw_cells(root, map, &l)?;
        draw_labels(root, map, &l, (w, h))
    })
}

fn draw_cells(root: &Area, map: &Heatmap, l: &Layout) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<_>| e.to_string();
    let centre = Pos::new(HPos::Center, VPos::Center);
    let size = (l.cell / 3).clamp(9, 14);
    for (r, row) in map.values.iter().enumerate() {
        for (c, &v) in row.iter().enumerate() {
            let (x, y) = (l.left + c as i32 * l.cell, l.top + r as i32 * l.cell);
            root.draw(&Rectangle::new([(x, y), (x + l.cell, y + l.cell)], blues(v).filled())).map_err(err)?;
            let Some(text) = map.text.as_ref().and_then(|t| t.get(r)?.get(c)) else { continue };
            let ink = if v > 0.5 { WHITE } else { BLACK };
            let style = (FONT, size).into_font().color(&ink).pos(centre);
            root.draw_text(text, &style, (x + l.cell / 2, y + l.cell / 2)).map_err(err)?;
        }
    }
    let (nr, nc) = (map.rows.len() as i32, map.columns.len() as i32);
    let frame = [(l.left, l.top), (l.left + nc * l.cell, l.top + nr * l.cell)];
    root.draw(&Rectangle::new(frame, BLACK.stroke_width(1))).map_err(err)
}

fn draw_labels(root: &Area, map: &Heatmap, l: &Layout, (w, h): (i32, i32)) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<_>| e.to_string();
    let font = (FONT, 13).into_font();
    let title = (FONT, 18).into_font().color(&BLACK).pos(Pos::new(HPos::Center, VPos::Top));
    root.draw_text(&map.title, &title, (w / 2, 10)).map_err(err)?;
    let right = font.color(&BLACK).pos(Pos::new(HPos::Right, VPos::Center));
    for (r, name) in map.rows.iter().enumerate() {
        root.draw_text(name, &right, (l.left - 6, l.top + r as i32 * l.cell + l.cell / 2)).map_err(err)?;
    }
    let below = l.top + map.rows.len() as i32 * l.cell + 6;
    for (c, name) in map.columns.iter().enumerate() {
        let x = l.left + c as i32 * l.cell + l.cell / 2;
        let style = if l.rotate {
            font.transform(FontTransform::Rotate90).color(&BLACK).pos(Pos::new(HPos::Left, VPos::Center))
        } else {
            font.color(&BLACK).pos(Pos::new(HPos::Center, VPos::Top))
        };
        root.draw_text(name, &style, (x, below)).map_err(err)?;
    }
    let axis = (FONT, 14).into_font();
    let across = l.left + map.columns.len() as i32 * l.cell / 2;
    root.draw_text(&map.column_label, &axis.color(&BLACK).pos(Pos::new(HPos::Center, VPos::Bottom)), (across, h - 6))
        .map_err(err)?;
    let up = axis.transform(FontTransform::Rotate270).color(&BLACK).pos(Pos::new(HPos::Center, VPos::Top));
    root.draw_text(&map.row_label, &up, (6, l.top + map.rows.len() as i32 * l.cell / 2)).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confusion_colours_rows_by_their_fraction() {
        let classes = vec!["a".to_string(), "b".to_string()];
        let map = Heatmap::confusion("m", &classes, &[vec![3, 1], vec![0, 0]]);
        assert_eq!(map.values, vec![vec![0.75, 0.25], vec![0.0, 0.0]]);
        assert_eq!(map.text.as_ref().map(|t| t[0][1].as_str()), Some("1"));
    }

    #[test]
    fn colour_scale_runs_light_to_dark() {
        assert_eq!(blues(0.0), RGBColor(247, 251, 255));
        assert_eq!(blues(1.0), RGBColor(8, 48, 107));
        assert_eq!(blues(f64::NAN), blues(0.0));
    }
}
