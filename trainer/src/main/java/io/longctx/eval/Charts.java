package io.longctx.eval;

import io.longctx.LongctxException;
import java.awt.BasicStroke;
import java.awt.Color;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.text.DecimalFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.LogAxis;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.plot.CategoryPlot;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.category.BarRenderer;
import org.jfree.chart.renderer.category.StandardBarPainter;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.category.DefaultCategoryDataset;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

/** PNG charts (JFreeChart, headless): lines, a heat map, stacked bars. */
public final class Charts {
    private static final List<Color> PALETTE = List.of(new Color(0x1f77b4), new Color(0xd62728),
            new Color(0x2ca02c), new Color(0xff7f0e), new Color(0x9467bd), new Color(0x8c564b), new Color(0xe377c2),
            new Color(0x7f7f7f));

    private Charts() {
    }

    /** One heat map's cells: values[row][column] in [0, 1], NaN for an empty cell. */
    public record Grid(String title, double[][] values) {
    }

    /**
     * A heat map of values in [0, 1] (passkey accuracy) over categorical rows and columns, white (0) to green (1),
     * each cell labelled with its value.
     */
    public static void heatMap(Path png, String title, String xLabel, String yLabel, List<String> columns,
            List<String> rows, double[][] values) {
        heatMaps(png, null, xLabel, yLabel, columns, rows, List.of(new Grid(title, values)));
    }

    /** Heat maps over the same rows and columns side by side, so they read as one comparison. */
    public static void heatMaps(Path png, String title, String xLabel, String yLabel, List<String> columns,
            List<String> rows, List<Grid> grids) {
        System.setProperty("java.awt.headless", "true");
        int cell = 90;
        int left = 110;
        int top = title == null ? 60 : 90;
        int panelWidth = Math.max(left + columns.size() * cell + 40,
                20 + 9 * grids.stream().mapToInt(g -> g.title().length()).max().orElse(0));
        int width = Math.max(panelWidth * grids.size(), title == null ? 0 : 20 + 9 * title.length());
        int height = top + rows.size() * cell + 70;
        java.awt.image.BufferedImage image = new java.awt.image.BufferedImage(width, height,
                java.awt.image.BufferedImage.TYPE_INT_RGB);
        java.awt.Graphics2D g = image.createGraphics();
        g.setRenderingHint(java.awt.RenderingHints.KEY_TEXT_ANTIALIASING,
                java.awt.RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, width, height);
        g.setColor(Color.BLACK);
        java.awt.Font bold = new java.awt.Font(java.awt.Font.SANS_SERIF, java.awt.Font.BOLD, 16);
        java.awt.Font plain = new java.awt.Font(java.awt.Font.SANS_SERIF, java.awt.Font.PLAIN, 13);
        if (title != null) {
            g.setFont(bold);
            g.drawString(title, 10, 28);
        }
        for (int p = 0; p < grids.size(); p++) {
            int origin = p * panelWidth;
            Grid grid = grids.get(p);
            g.setColor(Color.BLACK);
            g.setFont(title == null ? bold : plain.deriveFont(java.awt.Font.BOLD, 14f));
            g.drawString(grid.title(), origin + 10, top - 30);
            g.setFont(plain);
            for (int r = 0; r < rows.size(); r++) {
                for (int c = 0; c < columns.size(); c++) {
                    double v = grid.values()[r][c];
                    int x = origin + left + c * cell;
                    int y = top + r * cell;
                    float t = Double.isFinite(v) ? (float) Math.max(0, Math.min(1, v)) : 0f;
                    g.setColor(Double.isFinite(v) ? new Color(1f - 0.8f * t, 1f - 0.35f * t, 1f - 0.8f * t)
                            : new Color(0xeeeeee));
                    g.fillRect(x, y, cell, cell);
                    g.setColor(new Color(0x999999));
                    g.drawRect(x, y, cell, cell);
                    g.setColor(Color.BLACK);
                    String label = Double.isFinite(v) ? String.format(java.util.Locale.ROOT, "%.0f%%", 100 * v)
                            : "-";
                    g.drawString(label, x + cell / 2 - g.getFontMetrics().stringWidth(label) / 2, y + cell / 2 + 5);
                }
                g.drawString(rows.get(r), origin + 10, top + r * cell + cell / 2 + 5);
            }
            for (int c = 0; c < columns.size(); c++) {
                String label = columns.get(c);
                g.drawString(label, origin + left + c * cell + cell / 2 - g.getFontMetrics().stringWidth(label) / 2,
                        top + rows.size() * cell + 20);
            }
            g.drawString(xLabel, origin + left + columns.size() * cell / 2
                    - g.getFontMetrics().stringWidth(xLabel) / 2, top + rows.size() * cell + 45);
            g.drawString(yLabel, origin + 10, top - 10);
        }
        g.dispose();
        try {
            Files.createDirectories(png.toAbsolutePath().getParent());
            javax.imageio.ImageIO.write(image, "png", png.toFile());
        } catch (IOException e) {
            throw new LongctxException(png + ": cannot write chart (" + e.getMessage() + ")");
        }
    }

    /** One named series of (x, y) points; NaN y values are left out. */
    public record Series(String name, double[] x, double[] y) {
    }

    /**
     * @param log2X draw x on a base-2 log axis (context lengths)
     * @param logY draw y on a log axis (perplexity spans orders of magnitude once a model breaks down)
     */
    public static void line(Path png, String title, String xLabel, String yLabel, List<Series> series,
            boolean log2X, boolean logY) {
        System.setProperty("java.awt.headless", "true");
        XYSeriesCollection data = new XYSeriesCollection();
        Map<String, Integer> names = new LinkedHashMap<>();
        for (Series s : series) {
            String name = s.name();
            int n = names.merge(name, 1, Integer::sum);
            XYSeries xy = new XYSeries(n == 1 ? name : name + " (" + n + ")", false, true);
            for (int i = 0; i < s.x().length; i++) {
                if (Double.isFinite(s.y()[i]) && (!logY || s.y()[i] > 0)) {
                    xy.add(s.x()[i], s.y()[i]);
                }
            }
            data.addSeries(xy);
        }
        JFreeChart chart = ChartFactory.createXYLineChart(title, xLabel, yLabel, data, PlotOrientation.VERTICAL,
                true, false, false);
        XYPlot plot = chart.getXYPlot();
        plot.setBackgroundPaint(Color.WHITE);
        plot.setDomainGridlinePaint(new Color(0xdddddd));
        plot.setRangeGridlinePaint(new Color(0xdddddd));
        if (log2X) {
            LogAxis axis = new LogAxis(xLabel);
            axis.setBase(2);
            axis.setStandardTickUnits(NumberAxis.createIntegerTickUnits());
            axis.setSmallestValue(1);
            axis.setNumberFormatOverride(new DecimalFormat("#,##0"));
            plot.setDomainAxis(axis);
        }
        if (logY) {
            LogAxis axis = new LogAxis(yLabel);
            axis.setAutoRangeMinimumSize(0.5);
            axis.setNumberFormatOverride(new DecimalFormat("#,##0.##"));
            plot.setRangeAxis(axis);
        } else {
            ((NumberAxis) plot.getRangeAxis()).setAutoRangeIncludesZero(false);
        }
        XYLineAndShapeRenderer renderer = new XYLineAndShapeRenderer(true, true);
        for (int i = 0; i < data.getSeriesCount(); i++) {
            renderer.setSeriesPaint(i, PALETTE.get(i % PALETTE.size()));
            renderer.setSeriesStroke(i, new BasicStroke(2f));
        }
        plot.setRenderer(renderer);
        save(chart, png, 900, 560);
    }

    /** One panel of {@link #panels}: its y axis and its lines. */
    public record Panel(String yLabel, List<Series> series, boolean logY) {
    }

    /** Panels stacked over one shared x axis (training step), each with its own y axis. */
    public static void panels(Path png, String title, String xLabel, List<Panel> panels) {
        System.setProperty("java.awt.headless", "true");
        org.jfree.chart.plot.CombinedDomainXYPlot combined =
                new org.jfree.chart.plot.CombinedDomainXYPlot(new NumberAxis(xLabel));
        int colour = 0;
        for (Panel panel : panels) {
            XYSeriesCollection data = new XYSeriesCollection();
            for (Series s : panel.series()) {
                XYSeries xy = new XYSeries(s.name(), false, true);
                for (int i = 0; i < s.x().length; i++) {
                    if (Double.isFinite(s.y()[i]) && (!panel.logY() || s.y()[i] > 0)) {
                        xy.add(s.x()[i], s.y()[i]);
                    }
                }
                data.addSeries(xy);
            }
            org.jfree.chart.axis.ValueAxis axis;
            if (panel.logY()) {
                LogAxis log = new LogAxis(panel.yLabel());
                log.setAutoRangeMinimumSize(0.5);
                log.setNumberFormatOverride(new DecimalFormat("#,##0.##"));
                axis = log;
            } else {
                NumberAxis linear = new NumberAxis(panel.yLabel());
                linear.setAutoRangeIncludesZero(false);
                axis = linear;
            }
            XYLineAndShapeRenderer renderer = new XYLineAndShapeRenderer(true, true);
            for (int i = 0; i < data.getSeriesCount(); i++) {
                renderer.setSeriesPaint(i, PALETTE.get(colour++ % PALETTE.size()));
                renderer.setSeriesStroke(i, new BasicStroke(2f));
            }
            XYPlot plot = new XYPlot(data, null, axis, renderer);
            plot.setBackgroundPaint(Color.WHITE);
            plot.setDomainGridlinePaint(new Color(0xdddddd));
            plot.setRangeGridlinePaint(new Color(0xdddddd));
            combined.add(plot, 1);
        }
        JFreeChart chart = new JFreeChart(title, JFreeChart.DEFAULT_TITLE_FONT, combined, true);
        chart.setBackgroundPaint(Color.WHITE);
        save(chart, png, 900, 300 + 260 * panels.size());
    }

    /**
     * Horizontal stacked bars: one bar per row (a benchmark configuration), split into segments by part (where the
     * time went), in the order the parts first appear.
     */
    public static void stackedBars(Path png, String title, String valueLabel,
            Map<String, Map<String, Double>> rows) {
        System.setProperty("java.awt.headless", "true");
        DefaultCategoryDataset data = new DefaultCategoryDataset();
        rows.forEach((row, parts) -> parts.forEach((part, value) -> data.addValue(value, part, row)));
        JFreeChart chart = ChartFactory.createStackedBarChart(title, null, valueLabel, data,
                PlotOrientation.HORIZONTAL, true, false, false);
        CategoryPlot plot = chart.getCategoryPlot();
        plot.setBackgroundPaint(Color.WHITE);
        plot.setRangeGridlinePaint(new Color(0xdddddd));
        BarRenderer renderer = (BarRenderer) plot.getRenderer();
        renderer.setBarPainter(new StandardBarPainter());
        renderer.setShadowVisible(false);
        for (int i = 0; i < data.getRowCount(); i++) {
            renderer.setSeriesPaint(i, PALETTE.get(i % PALETTE.size()));
        }
        save(chart, png, 900, Math.max(320, 120 + 60 * rows.size()));
    }

    private static void save(JFreeChart chart, Path png, int width, int height) {
        try {
            Files.createDirectories(png.toAbsolutePath().getParent());
            ChartUtils.saveChartAsPNG(png.toFile(), chart, width, height);
        } catch (IOException e) {
            throw new LongctxException(png + ": cannot write chart (" + e.getMessage() + ")");
        }
    }
}
