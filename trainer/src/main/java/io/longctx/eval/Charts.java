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
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

/** PNG line charts (JFreeChart, headless). */
public final class Charts {
    private static final List<Color> PALETTE = List.of(new Color(0x1f77b4), new Color(0xd62728),
            new Color(0x2ca02c), new Color(0xff7f0e), new Color(0x9467bd), new Color(0x8c564b), new Color(0xe377c2),
            new Color(0x7f7f7f));

    private Charts() {
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
        try {
            Files.createDirectories(png.toAbsolutePath().getParent());
            ChartUtils.saveChartAsPNG(png.toFile(), chart, 900, 560);
        } catch (IOException e) {
            throw new LongctxException(png + ": cannot write chart (" + e.getMessage() + ")");
        }
    }
}
