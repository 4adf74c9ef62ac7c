//! The charts, rendered in memory with plotters and encoded as PNG: `/activity`'s daily one (messages per
//! day as bars, active members per day as a line on a second axis) and hour-of-week heatmap, and
//! `/insights`' growth chart and retention table.
//!
//! Text is drawn with DejaVu Sans, embedded in the binary (`assets/DejaVuSans.ttf`, licence in
//! `assets/LICENSE-DejaVu.txt`) and registered with plotters' `ab_glyph` backend: nothing is loaded from
//! the system or downloaded at run time.

use std::sync::OnceLock;

use plotters::prelude::*;
use plotters::style::FontStyle;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use engagement_domain::{Cohort, Day, DayFigures};

use crate::report::activity::DayActivity;

/// Chart width in pixels.
pub const WIDTH: u32 = 1000;
/// Chart height in pixels.
pub const HEIGHT: u32 = 450;

/// DejaVu Sans 2.37 (Bitstream Vera licence, see `assets/LICENSE-DejaVu.txt`).
static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
/// The family name the font is registered under; plotters' own default text uses it too.
const FAMILY: &str = "sans-serif";

const BAR: RGBColor = RGBColor(0x58, 0x65, 0xF2);
const LINE: RGBColor = RGBColor(0xF2, 0x8C, 0x28);
const GRID: RGBColor = RGBColor(0xE3, 0xE5, 0xE8);
/// The growth chart's MAU line and new-member bars.
const MAU: RGBColor = RGBColor(0x23, 0xA5, 0x59);
const NEW: RGBColor = RGBColor(0xB5, 0xBA, 0xC1);
/// The heatmap's colour for an hour without messages; busier hours shade towards [`BAR`].
const EMPTY: RGBColor = RGBColor(0xF2, 0xF3, 0xF5);

/// The chart could not be drawn or encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ChartError(String);

fn failed(what: &str) -> impl Fn(&dyn std::fmt::Display) -> ChartError + '_ {
    move |e| ChartError(format!("{what}: {e}"))
}

/// Registers the embedded font once per process.
fn font() -> Result<(), ChartError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED
        .get_or_init(|| plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    if ok {
        Ok(())
    } else {
        Err(ChartError("the embedded font is not a valid TrueType font".to_owned()))
    }
}

/// The chart of `days` under `caption`, as PNG bytes of [`WIDTH`] × [`HEIGHT`] pixels.
///
/// # Errors
/// A [`ChartError`] when drawing or encoding fails (never expected for valid input).
pub fn activity_png(caption: &str, days: &[DayActivity]) -> Result<Vec<u8>, ChartError> {
    render(|pixels| draw(pixels, caption, days))
}

/// Draws into a [`WIDTH`] × [`HEIGHT`] RGB buffer with the font registered, and encodes it as PNG.
fn render(draw: impl FnOnce(&mut [u8]) -> Result<(), ChartError>) -> Result<Vec<u8>, ChartError> {
    font()?;
    let width = usize::try_from(WIDTH).unwrap_or(0);
    let height = usize::try_from(HEIGHT).unwrap_or(0);
    let mut pixels = vec![0_u8; width * height * 3];
    draw(&mut pixels)?;
    encode(&pixels)
}

#[allow(clippy::cast_precision_loss)] // counts far below 2^52
fn draw(pixels: &mut [u8], caption: &str, days: &[DayActivity]) -> Result<(), ChartError> {
    let root = BitMapBackend::with_buffer(pixels, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| failed("background")(&e))?;
    let n = days.len().max(1) as f64;
    let max_messages = days.iter().map(|d| d.messages).max().unwrap_or(0).max(1) as f64;
    let max_active = days.iter().map(|d| d.active_members).max().unwrap_or(0).max(1) as f64;
    // Day i is centred on x = i.
    let x_range = -0.5..(n - 0.5);
    let mut chart = ChartBuilder::on(&root)
        .caption(caption, (FAMILY, 22))
        .margin(14)
        .x_label_area_size(34)
        .y_label_area_size(60)
        .right_y_label_area_size(60)
        .build_cartesian_2d(x_range.clone(), 0.0..max_messages * 1.25)
        .map_err(|e| failed("axes")(&e))?
        .set_secondary_coord(x_range, 0.0..max_active * 1.25);

    let label = day_labels(days.iter().map(|d| d.day).collect());
    chart
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(WHITE)
        .bold_line_style(GRID)
        .x_labels(days.len().clamp(1, 10))
        .x_label_formatter(&label)
        .y_label_formatter(&whole)
        .y_desc("Messages")
        .label_style((FAMILY, 14))
        .axis_desc_style((FAMILY, 15))
        .draw()
        .map_err(|e| failed("grid")(&e))?;
    chart
        .configure_secondary_axes()
        .y_desc("Active members")
        .y_label_formatter(&whole)
        .label_style((FAMILY, 14))
        .axis_desc_style((FAMILY, 15))
        .draw()
        .map_err(|e| failed("second axis")(&e))?;

    chart
        .draw_series(days.iter().enumerate().map(|(i, d)| {
            let x = i as f64;
            Rectangle::new([(x - 0.38, 0.0), (x + 0.38, d.messages as f64)], BAR.filled())
        }))
        .map_err(|e| failed("bars")(&e))?
        .label("Messages")
        .legend(|(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], BAR.filled()));
    chart
        .draw_secondary_series(LineSeries::new(
            days.iter().enumerate().map(|(i, d)| (i as f64, d.active_members as f64)),
            LINE.stroke_width(3),
        ))
        .map_err(|e| failed("line")(&e))?
        .label("Active members")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], LINE.stroke_width(3)));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.9))
        .border_style(GRID)
        .label_font((FAMILY, 14))
        .draw()
        .map_err(|e| failed("legend")(&e))?;
    root.present().map_err(|e| failed("rendering")(&e))
}

/// The x-axis labels of a chart with one day per whole x (day i centred on x = i): `Nov 03`, or the
/// full date when the days span two years.
fn day_labels(days: Vec<Day>) -> impl Fn(&f64) -> String {
    let spans_years =
        days.first().zip(days.last()).is_some_and(|(a, b)| a.month().year != b.month().year);
    move |x: &f64| {
        let index = x.round();
        if (x - index).abs() > 0.01 || index < 0.0 {
            return String::new();
        }
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // rounded, non-negative
        let index = index as usize;
        days.get(index).map_or_else(String::new, |day| {
            let format = if spans_years { "%Y-%m-%d" } else { "%b %d" };
            day.date().format(format).to_string()
        })
    }
}

/// A y-axis label: whole numbers only.
fn whole(y: &f64) -> String {
    if (y - y.round()).abs() > 0.01 { String::new() } else { format!("{y:.0}") }
}

/// The hour-of-week heatmap of `grid` (messages per weekday, Monday first, and local hour) under
/// `caption`, as PNG bytes of [`WIDTH`] × [`HEIGHT`] pixels: a cell's shade grows with its messages.
///
/// # Errors
/// A [`ChartError`] when drawing or encoding fails (never expected for valid input).
pub fn heatmap_png(caption: &str, grid: &[[i64; 24]; 7]) -> Result<Vec<u8>, ChartError> {
    render(|pixels| draw_heatmap(pixels, caption, grid))
}

/// The colour of a cell holding `share` (0–1) of the busiest cell's messages.
fn shade(share: f64) -> RGBColor {
    let mix = |from: u8, to: u8| {
        let v = f64::from(from) + (f64::from(to) - f64::from(from)) * share.clamp(0.0, 1.0);
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // within 0–255
        let v = v.round() as u8;
        v
    };
    RGBColor(mix(EMPTY.0, BAR.0), mix(EMPTY.1, BAR.1), mix(EMPTY.2, BAR.2))
}

#[allow(clippy::cast_precision_loss)] // counts far below 2^52
fn draw_heatmap(pixels: &mut [u8], caption: &str, grid: &[[i64; 24]; 7]) -> Result<(), ChartError> {
    let root = BitMapBackend::with_buffer(pixels, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| failed("background")(&e))?;
    let busiest = grid.iter().flatten().copied().max().unwrap_or(0).max(1) as f64;
    // Hour h spans x = h..h+1; Monday is the top row (y = 6..7), Sunday the bottom one.
    let mut chart = ChartBuilder::on(&root)
        .caption(caption, (FAMILY, 22))
        .margin(14)
        .x_label_area_size(34)
        .y_label_area_size(50)
        .build_cartesian_2d(0.0..24.0, 0.0..7.0)
        .map_err(|e| failed("axes")(&e))?;
    // Labels sit on the cells' lower-left corners (whole coordinates), moved by half a cell onto their
    // middles.
    let hour = |x: &f64| -> String {
        if (x - x.round()).abs() > 0.01 || *x < 0.0 || *x > 23.5 {
            return String::new();
        }
        format!("{x:.0}")
    };
    let weekday = |y: &f64| -> String {
        if (y - y.round()).abs() > 0.01 || *y < 0.0 || *y > 6.5 {
            return String::new();
        }
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // rounded, 0–6
        let row = 6 - y.round() as usize;
        crate::format::WEEKDAYS.get(row).map_or_else(String::new, |d| (*d).to_owned())
    };
    let (area_width, area_height) = chart.plotting_area().dim_in_pixel();
    let half_cell = |pixels: u32, cells: u32| i32::try_from(pixels / cells / 2).unwrap_or(0);
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(25)
        .y_labels(8)
        .x_label_offset(half_cell(area_width, 24))
        .y_label_offset(-half_cell(area_height, 7))
        .x_label_formatter(&hour)
        .y_label_formatter(&weekday)
        .x_desc("Hour (local time)")
        .label_style((FAMILY, 14))
        .axis_desc_style((FAMILY, 15))
        .draw()
        .map_err(|e| failed("axes")(&e))?;
    chart
        .draw_series(grid.iter().enumerate().flat_map(|(row, hours)| {
            let top = 7.0 - row as f64;
            hours.iter().enumerate().map(move |(h, &n)| {
                let x = h as f64;
                Rectangle::new(
                    [(x + 0.04, top - 0.06), (x + 0.96, top - 0.94)],
                    shade(n as f64 / busiest).filled(),
                )
            })
        }))
        .map_err(|e| failed("cells")(&e))?;
    root.present().map_err(|e| failed("rendering")(&e))
}

fn encode(pixels: &[u8]) -> Result<Vec<u8>, ChartError> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, WIDTH, HEIGHT);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| failed("PNG header")(&e))?;
    writer.write_image_data(pixels).map_err(|e| failed("PNG data")(&e))?;
    writer.finish().map_err(|e| failed("PNG end")(&e))?;
    Ok(out)
}

/// The growth chart of `days` under `caption`, as PNG bytes of [`WIDTH`] × [`HEIGHT`] pixels: new
/// members per day as bars, DAU, WAU and MAU as lines on a second axis.
///
/// # Errors
/// A [`ChartError`] when drawing or encoding fails (never expected for valid input).
pub fn growth_png(caption: &str, days: &[DayFigures]) -> Result<Vec<u8>, ChartError> {
    render(|pixels| draw_growth(pixels, caption, days))
}

#[allow(clippy::cast_precision_loss)] // counts far below 2^52
fn draw_growth(pixels: &mut [u8], caption: &str, days: &[DayFigures]) -> Result<(), ChartError> {
    let root = BitMapBackend::with_buffer(pixels, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| failed("background")(&e))?;
    let n = days.len().max(1) as f64;
    let max_new = days.iter().map(|d| d.new_members).max().unwrap_or(0).max(1) as f64;
    let max_active =
        days.iter().map(|d| d.mau.max(d.wau).max(d.dau)).max().unwrap_or(0).max(1) as f64;
    let x_range = -0.5..(n - 0.5);
    let mut chart = ChartBuilder::on(&root)
        .caption(caption, (FAMILY, 22))
        .margin(14)
        .x_label_area_size(34)
        .y_label_area_size(60)
        .right_y_label_area_size(60)
        .build_cartesian_2d(x_range.clone(), 0.0..max_active * 1.25)
        .map_err(|e| failed("axes")(&e))?
        .set_secondary_coord(x_range, 0.0..max_new * 1.6);
    let label = day_labels(days.iter().map(|d| d.day).collect());
    chart
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(WHITE)
        .bold_line_style(GRID)
        .x_labels(days.len().clamp(1, 10))
        .x_label_formatter(&label)
        .y_label_formatter(&whole)
        .y_desc("Active members")
        .label_style((FAMILY, 14))
        .axis_desc_style((FAMILY, 15))
        .draw()
        .map_err(|e| failed("grid")(&e))?;
    chart
        .configure_secondary_axes()
        .y_desc("New members")
        .y_label_formatter(&whole)
        .label_style((FAMILY, 14))
        .axis_desc_style((FAMILY, 15))
        .draw()
        .map_err(|e| failed("second axis")(&e))?;
    chart
        .draw_secondary_series(days.iter().enumerate().map(|(i, d)| {
            let x = i as f64;
            Rectangle::new([(x - 0.38, 0.0), (x + 0.38, d.new_members as f64)], NEW.filled())
        }))
        .map_err(|e| failed("bars")(&e))?
        .label("New members")
        .legend(|(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], NEW.filled()));
    let lines = [
        ("MAU", MAU, days.iter().map(|d| d.mau).collect::<Vec<_>>()),
        ("WAU", LINE, days.iter().map(|d| d.wau).collect()),
        ("DAU", BAR, days.iter().map(|d| d.dau).collect()),
    ];
    for (name, colour, values) in lines {
        chart
            .draw_series(LineSeries::new(
                values.iter().enumerate().map(|(i, v)| (i as f64, *v as f64)),
                colour.stroke_width(3),
            ))
            .map_err(|e| failed("line")(&e))?
            .label(name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 14, y)], colour.stroke_width(3))
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.9))
        .border_style(GRID)
        .label_font((FAMILY, 14))
        .draw()
        .map_err(|e| failed("legend")(&e))?;
    root.present().map_err(|e| failed("rendering")(&e))
}

/// The retention table of `cohorts` under `caption`, as PNG bytes of [`WIDTH`] × [`HEIGHT`] pixels: a
/// row per join week (its Monday and size), a column per week after it, each cell the share still
/// active, shaded by it.
///
/// # Errors
/// A [`ChartError`] when drawing or encoding fails (never expected for valid input).
pub fn retention_png(caption: &str, cohorts: &[Cohort]) -> Result<Vec<u8>, ChartError> {
    render(|pixels| draw_retention(pixels, caption, cohorts))
}

#[allow(clippy::cast_precision_loss)] // a few dozen rows and columns
fn draw_retention(pixels: &mut [u8], caption: &str, cohorts: &[Cohort]) -> Result<(), ChartError> {
    let root = BitMapBackend::with_buffer(pixels, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| failed("background")(&e))?;
    let columns = cohorts.iter().map(|c| c.active.len()).max().unwrap_or(0).max(1);
    let rows = cohorts.len().max(1);
    // Text fits its row: 15 px for a few weeks, down to 9 px for 26 (about 14 px a row).
    let font = u32::try_from(360 / rows).unwrap_or(0).saturating_mul(3).div_euclid(5).clamp(9, 15);
    // Column k (week k + 1 after joining) spans x = k..k+1; the oldest cohort is the top row.
    let mut chart = ChartBuilder::on(&root)
        .caption(caption, (FAMILY, 22))
        .margin(14)
        .x_label_area_size(34)
        .y_label_area_size(130)
        .build_cartesian_2d(0.0..columns as f64, 0.0..rows as f64)
        .map_err(|e| failed("axes")(&e))?;
    let column = |x: &f64| -> String {
        let k = x - 0.5;
        if (k - k.round()).abs() > 0.01 || k < 0.0 {
            return String::new();
        }
        format!("week {:.0}", k + 1.0)
    };
    let row = |y: &f64| -> String {
        let k = y - 0.5;
        if (k - k.round()).abs() > 0.01 || k < 0.0 {
            return String::new();
        }
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // rounded, non-negative
        let index = rows - 1 - (k.round() as usize).min(rows - 1);
        cohorts.get(index).map_or_else(String::new, |c| {
            format!("{} ({})", c.week.date().format("%b %d"), c.members)
        })
    };
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(columns * 2 + 1)
        .y_labels(rows * 2 + 1)
        .x_label_formatter(&|x| column(&(x + 0.0)))
        .y_label_formatter(&row)
        .label_style((FAMILY, font.min(14)))
        .draw()
        .map_err(|e| failed("labels")(&e))?;
    for (index, cohort) in cohorts.iter().enumerate() {
        let y = (rows - 1 - index) as f64;
        for k in 0..columns {
            let x = k as f64;
            let (fill, text) = match cohort.share(k + 1) {
                Some(share) => (shade(share), format!("{:.0}%", share * 100.0)),
                None if cohort.active.get(k).is_some_and(Option::is_some) => {
                    (EMPTY, "–".to_owned())
                }
                None => (WHITE, String::new()),
            };
            chart
                .draw_series([Rectangle::new(
                    [(x + 0.03, y + 0.06), (x + 0.97, y + 0.94)],
                    fill.filled(),
                )])
                .map_err(|e| failed("cells")(&e))?;
            if !text.is_empty() {
                let ink = if cohort.share(k + 1).is_some_and(|s| s > 0.55) { WHITE } else { BLACK };
                chart
                    .draw_series([Text::new(
                        text,
                        (x + 0.5, y + 0.5),
                        (FAMILY, font)
                            .into_font()
                            .color(&ink)
                            .pos(Pos::new(HPos::Center, VPos::Center)),
                    )])
                    .map_err(|e| failed("cell text")(&e))?;
            }
        }
    }
    root.present().map_err(|e| failed("rendering")(&e))
}

#[cfg(test)]
mod tests {
    use engagement_domain::Day;

    use super::*;

    #[test]
    fn the_chart_is_a_png_of_the_documented_size() -> Result<(), Box<dyn std::error::Error>> {
        let first: Day = "2025-11-01".parse()?;
        let days: Vec<DayActivity> = (0..30_u8)
            .map(|i| DayActivity {
                day: first.plus(i32::from(i)),
                messages: i64::from(i % 7) * 10,
                active_members: usize::from(i % 5),
            })
            .collect();
        let png = activity_png("Server activity, last 30 days", &days)?;
        let decoder = png::Decoder::new(std::io::Cursor::new(png));
        let reader = decoder.read_info()?;
        let info = reader.info();
        assert_eq!((info.width, info.height), (WIDTH, HEIGHT));
        Ok(())
    }

    #[test]
    fn the_heatmap_is_a_png_whose_busiest_cell_is_darkest() -> Result<(), Box<dyn std::error::Error>>
    {
        let mut grid = [[0_i64; 24]; 7];
        grid[1][20] = 50;
        grid[5][9] = 10;
        let png = heatmap_png("Server activity by hour", &grid)?;
        let decoder = png::Decoder::new(std::io::Cursor::new(png));
        let mut reader = decoder.read_info()?;
        assert_eq!((reader.info().width, reader.info().height), (WIDTH, HEIGHT));
        let mut pixels = vec![0; reader.output_buffer_size().unwrap_or(0)];
        reader.next_frame(&mut pixels)?;
        // The busiest cell (Tuesday, 20:00) is the only one in the full colour: right of 20/24 of the
        // plot's width, in the second of seven rows.
        let width = usize::try_from(WIDTH)?;
        let full: Vec<(usize, usize)> = pixels
            .chunks(3)
            .enumerate()
            .filter(|(_, p)| *p == [BAR.0, BAR.1, BAR.2])
            .map(|(i, _)| (i % width, i / width))
            .collect();
        assert!(!full.is_empty());
        let (xs, ys): (Vec<usize>, Vec<usize>) = full.into_iter().unzip();
        let (left, right) = (xs.iter().min().copied(), xs.iter().max().copied());
        let (top, bottom) = (ys.iter().min().copied(), ys.iter().max().copied());
        assert!(
            left > Some(width * 19 / 24) && right < Some(width * 22 / 24),
            "{left:?}..{right:?}"
        );
        let height = usize::try_from(HEIGHT)?;
        assert!(top > Some(height / 7) && bottom < Some(height * 3 / 7), "{top:?}..{bottom:?}");
        assert_eq!(shade(1.0), BAR);
        assert_eq!(shade(0.0), EMPTY);
        let (dark, light) = (shade(1.0), shade(0.2));
        assert!(u32::from(dark.0) + u32::from(dark.1) < u32::from(light.0) + u32::from(light.1));
        // An empty grid draws too (every cell the empty colour).
        assert!(heatmap_png("nothing", &[[0; 24]; 7])?.starts_with(b"\x89PNG"));
        Ok(())
    }

    /// The decoded RGB pixels of a PNG of the documented size.
    fn pixels(png: Vec<u8>) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
        let mut reader = png::Decoder::new(std::io::Cursor::new(png)).read_info()?;
        assert_eq!((reader.info().width, reader.info().height), (WIDTH, HEIGHT));
        let mut pixels = vec![0; reader.output_buffer_size().unwrap_or(0)];
        reader.next_frame(&mut pixels)?;
        Ok(pixels)
    }

    /// Keeps a drawn chart under `target/charts/` to look at.
    fn keep(name: &str, png: &[u8]) -> std::io::Result<()> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/charts");
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join(name), png)
    }

    /// Where pixels of `colour` are: (x, y) of each.
    fn where_is(pixels: &[u8], colour: RGBColor) -> Vec<(usize, usize)> {
        let width = usize::try_from(WIDTH).unwrap_or(1);
        pixels
            .chunks(3)
            .enumerate()
            .filter(|(_, p)| *p == [colour.0, colour.1, colour.2])
            .map(|(i, _)| (i % width, i / width))
            .collect()
    }

    #[test]
    fn the_growth_chart_draws_its_three_lines_and_the_new_members()
    -> Result<(), Box<dyn std::error::Error>> {
        let first: Day = "2026-09-01".parse()?;
        let days: Vec<DayFigures> = (0..90_usize)
            .map(|i| DayFigures {
                day: first.plus(i32::try_from(i).unwrap_or(0)),
                dau: 5 + i % 7,
                wau: 20 + i / 10,
                mau: 40 + i / 3,
                new_members: usize::from(i == 45) * 9,
                returning_members: 5,
                messages: 100,
            })
            .collect();
        let png = growth_png("Server growth, last 90 days", &days)?;
        keep("growth.png", &png)?;
        let pixels = pixels(png)?;
        for colour in [MAU, LINE, BAR] {
            assert!(where_is(&pixels, colour).len() > 500, "{colour:?}");
        }
        // One day has new members: its bar is the only one, in the middle of the plot (the legend's
        // swatch is at the top).
        let (width, height) = (usize::try_from(WIDTH)?, usize::try_from(HEIGHT)?);
        let bar = where_is(&pixels, NEW).into_iter().filter(|(_, y)| *y > height * 2 / 3);
        let (xs, _): (Vec<usize>, Vec<usize>) = bar.unzip();
        let (left, right) = (xs.iter().min().copied(), xs.iter().max().copied());
        assert!(left > Some(width * 2 / 5) && right < Some(width * 3 / 5), "{left:?}..{right:?}");
        Ok(())
    }

    #[test]
    fn the_retention_table_shades_each_cell_by_its_share() -> Result<(), Box<dyn std::error::Error>>
    {
        let week: Day = "2026-10-05".parse()?;
        let cohorts = vec![
            Cohort { week, members: 4, active: vec![Some(4), Some(2), Some(0), None] },
            Cohort { week: week.plus(7), members: 0, active: vec![Some(0), Some(0), None, None] },
            Cohort { week: week.plus(14), members: 3, active: vec![Some(1), None, None, None] },
        ];
        let png = retention_png("Retention", &cohorts)?;
        keep("retention.png", &png)?;
        let pixels = pixels(png)?;
        // The only 100 % cell (first cohort, week 1) is the only one in the full colour: top left.
        let full = where_is(&pixels, BAR);
        assert!(!full.is_empty());
        let (xs, ys): (Vec<usize>, Vec<usize>) = full.into_iter().unzip();
        let (width, height) = (usize::try_from(WIDTH)?, usize::try_from(HEIGHT)?);
        assert!(xs.iter().max() < Some(&(width / 2)), "{:?}", xs.iter().max());
        assert!(ys.iter().max() < Some(&(height / 2)), "{:?}", ys.iter().max());
        assert!(retention_png("empty", &[])?.starts_with(b"\x89PNG"));
        Ok(())
    }

    #[test]
    fn a_single_day_and_a_long_range_draw_too() -> Result<(), Box<dyn std::error::Error>> {
        let first: Day = "2024-01-01".parse()?;
        let one = [DayActivity { day: first, messages: 0, active_members: 0 }];
        assert!(activity_png("one", &one)?.starts_with(b"\x89PNG"));
        let year: Vec<DayActivity> = (0..700)
            .map(|i| DayActivity { day: first.plus(i), messages: i64::from(i), active_members: 3 })
            .collect();
        assert!(activity_png("years", &year)?.starts_with(b"\x89PNG"));
        Ok(())
    }
}
