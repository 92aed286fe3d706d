//! `trainc::plot`: each kind of plot draws, encodes as PNG, and draws its text (the compiled-in
//! font: a title leaves dark pixels where it is written).

#![cfg(feature = "train")]
// Tests write their own files; the front-end rule of clippy.toml is not theirs.
#![allow(clippy::disallowed_methods)]

use trainc::plot::{self, Chart, Heatmap, Outline, Series, Tile};

/// Dark pixels in the rows `y0..y1` of a canvas.
fn ink(canvas: &plot::Canvas, y0: u32, y1: u32) -> usize {
    (y0..y1)
        .flat_map(|y| (0..canvas.width()).map(move |x| (x, y)))
        .filter(|&(x, y)| canvas.get_pixel(x, y).0.iter().all(|&c| c < 100))
        .count()
}

fn round_trip(canvas: &plot::Canvas) {
    let png = plot::png_bytes(canvas);
    let back = image::load_from_memory(&png).expect("a PNG").to_rgb8();
    assert_eq!(back.dimensions(), canvas.dimensions());
}

#[test]
fn charts_draw_series_titles_and_log_axes() {
    let loss = Series::line("train", (1..=5).map(|e| (e as f64, 1.0 / e as f64)).collect());
    let val = Series::line("val", vec![(1.0, 0.9), (2.0, f64::NAN), (3.0, 0.4)]);
    let lr = Chart {
        title: "learning rate".into(),
        series: vec![Series::line("lr", vec![(1.0, 1e-3), (2.0, 1e-4)])],
        log_y: true,
        ..Chart::default()
    };
    let panels = [
        Chart { title: "loss".into(), x_label: "epoch".into(), series: vec![loss, val], ..Chart::default() },
        lr,
        Chart { title: "empty".into(), ..Chart::default() },
    ];
    let canvas = plot::charts(&panels, 2, (400, 300)).expect("drawn");
    assert_eq!(canvas.dimensions(), (800, 600));
    assert!(ink(&canvas, 0, 30) > 50, "the titles are drawn");
    round_trip(&canvas);
}

#[test]
fn confusion_heatmap_labels_its_classes() {
    let classes: Vec<String> = ["T-shirt/top", "Trouser", "Pullover"].map(String::from).to_vec();
    let m = vec![vec![8, 1, 1], vec![0, 10, 0], vec![2, 0, 8]];
    let canvas = plot::heatmap(&Heatmap::confusion("confusion matrix", &classes, &m)).expect("drawn");
    assert!(canvas.width() > 3 * 64);
    assert!(ink(&canvas, 0, 40) > 50, "the title is drawn");
    round_trip(&canvas);
}

#[test]
fn image_grids_hold_boxes_masks_and_captions() {
    let image = plot::Canvas::from_pixel(32, 32, image::Rgb([200, 200, 200]));
    let outline = Outline { x0: 4.0, y0: 4.0, x1: 20.0, y1: 20.0, label: "cat".into(), color: 3, thin: false };
    let tiles = vec![
        Tile {
            image: image.clone(),
            caption: "cat / cat".into(),
            correct: Some(true),
            boxes: vec![outline],
            mask: None,
        },
        Tile { image, caption: "dog / cat".into(), correct: Some(false), boxes: vec![], mask: Some(vec![1; 32 * 32]) },
    ];
    let canvas = plot::image_grid(&tiles, 4).expect("drawn");
    assert_eq!(canvas.width(), 2 * 136);
    // The box's colour (tab10 red) is on the first tile.
    let red = canvas.pixels().filter(|p| p.0 == [214, 39, 40]).count();
    assert!(red > 40, "the box is drawn ({red} pixels)");
    round_trip(&canvas);
    let dir = std::env::temp_dir().join(format!("trainc-plot-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    plot::save_png(&dir.join("grid.png"), &canvas).expect("written");
    assert!(image::open(dir.join("grid.png")).is_ok());
    let _ = std::fs::remove_dir_all(&dir);
}
