package io.longctx.recipe;

import io.longctx.LongctxException;
import java.io.IOException;
import java.io.Reader;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.SequenceNode;
import org.yaml.snakeyaml.nodes.Tag;

/**
 * A node of a YAML recipe with its dotted path and line, read strictly: typed getters report wrong types, missing
 * required keys and invalid values into a shared {@link Problems}, and {@link #finish()} reports every key that no
 * getter asked for (a typo surfaces before any work, not hours into a run).
 */
public final class RecipeNode {
    private final Node node;
    private final String path;
    private final Problems problems;
    private final Set<String> read = new LinkedHashSet<>();
    private final List<RecipeNode> children = new ArrayList<>();
    /** Set once the node was taken whole (toPlain): its keys are checked by whoever consumes them. */
    private boolean opaque;

    /** For a missing key: the line of the mapping it is missing from, so the problem still has a line. */
    private int parentLine;

    private RecipeNode(Node node, String path, Problems problems) {
        this.node = node;
        this.path = path;
        this.problems = problems;
    }

    /** Parses YAML text; a syntax error is reported with its line. */
    public static RecipeNode parse(String text, String source) {
        return parse(text, source, List.of());
    }

    /**
     * Parses YAML text, then applies {@code key.path=value} overrides (values are YAML: numbers, booleans, lists);
     * a missing mapping on the path is created.
     */
    public static RecipeNode parse(String text, String source, List<String> overrides) {
        Problems problems = new Problems(source);
        try (Reader reader = new StringReader(text)) {
            LoaderOptions options = new LoaderOptions();
            options.setAllowDuplicateKeys(false);
            Node root = new Yaml(options).compose(reader);
            if (root == null) {
                problems.add(0, "", "the recipe is empty");
                problems.throwIfAny();
            }
            RecipeNode node = new RecipeNode(root, "", problems);
            if (!(root instanceof MappingNode)) {
                problems.add(node.line(), "", "the recipe must be a mapping of keys to values");
                problems.throwIfAny();
            }
            reportDuplicateKeys(root, "", problems);
            problems.throwIfAny();
            for (String override : overrides) {
                applyOverride((MappingNode) root, override, options);
            }
            return node;
        } catch (MarkedYAMLException e) {
            int line = e.getProblemMark() == null ? 0 : e.getProblemMark().getLine() + 1;
            problems.add(line, "", "not valid YAML (" + e.getProblem() + ")");
            throw new RecipeException(List.of(problems.source() + ":" + line + ": not valid YAML ("
                    + e.getProblem() + ")"));
        } catch (IOException | RuntimeException e) {
            if (e instanceof LongctxException le) {
                throw le;
            }
            throw new LongctxException(source + ": not valid YAML (" + e.getMessage() + ")");
        }
    }

    /** Composing keeps every duplicate key (the last would silently win): each is a problem with both lines. */
    private static void reportDuplicateKeys(Node node, String path, Problems problems) {
        if (node instanceof MappingNode mapping) {
            Map<String, Integer> seen = new LinkedHashMap<>();
            for (NodeTuple tuple : mapping.getValue()) {
                String key = tuple.getKeyNode() instanceof ScalarNode k ? k.getValue() : "?";
                String keyPath = path.isEmpty() ? key : path + "." + key;
                Integer first = seen.putIfAbsent(key, lineOf(tuple.getKeyNode()));
                if (first != null) {
                    problems.add(lineOf(tuple.getKeyNode()), keyPath, "duplicate key (first given at line " + first
                            + ")");
                }
                reportDuplicateKeys(tuple.getValueNode(), keyPath, problems);
            }
        } else if (node instanceof SequenceNode seq) {
            int i = 0;
            for (Node item : seq.getValue()) {
                reportDuplicateKeys(item, path + "[" + i++ + "]", problems);
            }
        }
    }

    /** A JSON object (an HF config.json, a --rope-scaling argument) as a node, read with the same rules. */
    public static RecipeNode fromJson(com.fasterxml.jackson.databind.JsonNode json, String source) {
        return new RecipeNode(yamlNode(json), "", new Problems(source));
    }

    private static Node yamlNode(com.fasterxml.jackson.databind.JsonNode json) {
        if (json == null || json.isNull() || json.isMissingNode()) {
            return new ScalarNode(Tag.NULL, "null", null, null, org.yaml.snakeyaml.DumperOptions.ScalarStyle.PLAIN);
        }
        if (json.isObject()) {
            List<NodeTuple> tuples = new ArrayList<>();
            json.fields().forEachRemaining(e -> tuples.add(new NodeTuple(new ScalarNode(Tag.STR, e.getKey(), null,
                    null, org.yaml.snakeyaml.DumperOptions.ScalarStyle.PLAIN), yamlNode(e.getValue()))));
            return new MappingNode(Tag.MAP, tuples, org.yaml.snakeyaml.DumperOptions.FlowStyle.FLOW);
        }
        if (json.isArray()) {
            List<Node> items = new ArrayList<>();
            json.forEach(item -> items.add(yamlNode(item)));
            return new SequenceNode(Tag.SEQ, items, org.yaml.snakeyaml.DumperOptions.FlowStyle.FLOW);
        }
        Tag tag = json.isIntegralNumber() ? Tag.INT : json.isNumber() ? Tag.FLOAT : json.isBoolean() ? Tag.BOOL
                : Tag.STR;
        String text = json.isTextual() ? json.textValue() : json.asText();
        return new ScalarNode(tag, text, null, null, org.yaml.snakeyaml.DumperOptions.ScalarStyle.PLAIN);
    }

    private static void applyOverride(MappingNode root, String override, LoaderOptions options) {
        int eq = override.indexOf('=');
        if (eq <= 0) {
            throw new LongctxException("--set " + override + ": expected key.path=value");
        }
        String[] keys = override.substring(0, eq).trim().split("\\.");
        Node value;
        try {
            value = new Yaml(options).compose(new StringReader(override.substring(eq + 1)));
        } catch (MarkedYAMLException e) {
            throw new LongctxException("--set " + override + ": value is not valid YAML (" + e.getProblem() + ")");
        }
        if (value == null) {
            value = new ScalarNode(Tag.NULL, "null", null, null, org.yaml.snakeyaml.DumperOptions.ScalarStyle.PLAIN);
        }
        MappingNode mapping = root;
        for (int i = 0; i < keys.length; i++) {
            String key = keys[i];
            if (key.isEmpty()) {
                throw new LongctxException("--set " + override + ": empty key in the path");
            }
            NodeTuple found = null;
            for (NodeTuple tuple : mapping.getValue()) {
                if (tuple.getKeyNode() instanceof ScalarNode k && k.getValue().equals(key)) {
                    found = tuple;
                }
            }
            boolean last = i == keys.length - 1;
            if (!last && found != null && !(found.getValueNode() instanceof MappingNode)
                    && !(found.getValueNode() instanceof ScalarNode sc && sc.getTag().equals(Tag.NULL))) {
                throw new LongctxException("--set " + override + ": "
                        + String.join(".", java.util.Arrays.copyOf(keys, i + 1)) + " is a value, not a section");
            }
            Node child = last ? value : found != null && found.getValueNode() instanceof MappingNode m ? m
                    : new MappingNode(Tag.MAP, new ArrayList<>(), org.yaml.snakeyaml.DumperOptions.FlowStyle.BLOCK);
            NodeTuple replacement = new NodeTuple(new ScalarNode(Tag.STR, key, value.getStartMark(),
                    value.getEndMark(), org.yaml.snakeyaml.DumperOptions.ScalarStyle.PLAIN), child);
            List<NodeTuple> tuples = mapping.getValue();
            if (found != null) {
                tuples.set(tuples.indexOf(found), replacement);
            } else {
                tuples.add(replacement);
            }
            if (!last) {
                mapping = (MappingNode) child;
            }
        }
    }

    public static RecipeNode load(Path file) {
        return load(file, List.of());
    }

    public static RecipeNode load(Path file, List<String> overrides) {
        if (!Files.isRegularFile(file)) {
            throw new LongctxException(file + ": recipe not found");
        }
        try {
            return parse(Files.readString(file, StandardCharsets.UTF_8), file.toString(), overrides);
        } catch (IOException e) {
            throw new LongctxException(file + ": cannot read (" + e.getMessage() + ")");
        }
    }

    public Problems problems() {
        return problems;
    }

    public String path() {
        return path;
    }

    public int line() {
        return node == null ? parentLine : lineOf(node);
    }

    private static int lineOf(Node node) {
        return node == null || node.getStartMark() == null ? 0 : node.getStartMark().getLine() + 1;
    }

    public boolean isMissing() {
        return node == null || node instanceof ScalarNode s && s.getTag().equals(Tag.NULL);
    }

    public boolean isMapping() {
        return node instanceof MappingNode;
    }

    public boolean isSequence() {
        return node instanceof SequenceNode;
    }

    public boolean isScalar() {
        return node instanceof ScalarNode && !isMissing();
    }

    public void problem(String message) {
        problems.add(line(), path, message);
    }

    private String childPath(String key) {
        return path.isEmpty() ? key : path + "." + key;
    }

    /** The child under key (a missing node when absent); marks the key as read. */
    public RecipeNode get(String key) {
        read.add(key);
        if (node instanceof MappingNode mapping) {
            for (NodeTuple tuple : mapping.getValue()) {
                if (tuple.getKeyNode() instanceof ScalarNode k && k.getValue().equals(key)) {
                    RecipeNode child = new RecipeNode(tuple.getValueNode(), childPath(key), problems);
                    children.add(child);
                    return child;
                }
            }
        }
        RecipeNode missing = new RecipeNode(null, childPath(key), problems);
        missing.parentLine = line();
        return missing;
    }

    public boolean has(String key) {
        return !get(key).isMissing();
    }

    /** The keys present in this mapping, in file order. */
    public List<String> keys() {
        List<String> keys = new ArrayList<>();
        if (node instanceof MappingNode mapping) {
            for (NodeTuple tuple : mapping.getValue()) {
                if (tuple.getKeyNode() instanceof ScalarNode k) {
                    keys.add(k.getValue());
                }
            }
        }
        return keys;
    }

    public List<RecipeNode> elements() {
        List<RecipeNode> out = new ArrayList<>();
        if (node instanceof SequenceNode seq) {
            int i = 0;
            for (Node item : seq.getValue()) {
                RecipeNode child = new RecipeNode(item, path + "[" + i++ + "]", problems);
                children.add(child);
                out.add(child);
            }
        } else if (!isMissing()) {
            problem("must be a list");
        }
        return out;
    }

    /** The scalar text, or null when missing. Reports a problem for mappings and lists. */
    public String text() {
        if (isMissing()) {
            return null;
        }
        if (node instanceof ScalarNode scalar) {
            return scalar.getValue();
        }
        problem("must be a single value, not a " + (isMapping() ? "mapping" : "list"));
        return null;
    }

    /** The child under key, or null when it is missing (reported when required). */
    private RecipeNode present(String key, boolean required) {
        RecipeNode child = get(key);
        if (child.isMissing()) {
            if (required) {
                child.problem("is required");
            }
            return null;
        }
        return child;
    }

    private <T> T scalar(String key, T defaultValue, boolean required, String expected, Function<String, T> parse) {
        RecipeNode child = present(key, required);
        if (child == null) {
            return defaultValue;
        }
        String text = child.text();
        if (text == null) {
            return defaultValue;
        }
        try {
            return parse.apply(text);
        } catch (RuntimeException e) {
            child.problem("must be " + expected + ", got '" + text + "'");
            return defaultValue;
        }
    }

    public String string(String key, String defaultValue) {
        return textOf(key, defaultValue, false);
    }

    public String requiredString(String key) {
        return textOf(key, null, true);
    }

    /** A string value: an unquoted number or boolean is refused (a path '12' must be quoted to mean a name). */
    private String textOf(String key, String defaultValue, boolean required) {
        RecipeNode child = present(key, required);
        String value = child == null ? null : child.asString();
        return value == null ? defaultValue : value;
    }

    /** This scalar as a string (null when missing); an unquoted number or boolean is refused. */
    public String asString() {
        if (node instanceof ScalarNode scalar && !isMissing() && scalar.isPlain()
                && (scalar.getTag().equals(Tag.INT) || scalar.getTag().equals(Tag.FLOAT)
                || scalar.getTag().equals(Tag.BOOL))) {
            problem("must be a string, got " + scalar.getTag().getValue().replace("tag:yaml.org,2002:", "") + " '"
                    + scalar.getValue() + "' (quote it if a name is meant)");
            return null;
        }
        return text();
    }

    /** Whether a problem was already reported at this key (checks that need its value then stand aside). */
    public boolean hasProblem(String key) {
        return problems.reported(childPath(key));
    }

    /** A list of numbers, or null when the key is absent; each bad entry is reported. */
    public double[] numbers(String key) {
        RecipeNode list = get(key);
        if (list.isMissing()) {
            return null;
        }
        List<RecipeNode> items = list.elements();
        double[] out = new double[items.size()];
        for (int i = 0; i < out.length; i++) {
            String text = items.get(i).text();
            try {
                out[i] = parseDouble(text == null ? "" : text);
            } catch (RuntimeException e) {
                items.get(i).problem("must be a finite number, got '" + text + "'");
            }
        }
        return out;
    }

    /** This node as plain Java values, leaving its keys to be checked by the getters that read them. */
    public Object plainValue() {
        return plain(node);
    }

    private static final String INTEGER = "a whole number of at most 2,147,483,647";

    public int integer(String key, int defaultValue) {
        return scalar(key, defaultValue, false, INTEGER, RecipeNode::parseInt);
    }

    public Integer optionalInteger(String key) {
        return scalar(key, null, false, INTEGER, RecipeNode::parseInt);
    }

    public int requiredInteger(String key) {
        Integer value = scalar(key, null, true, INTEGER, RecipeNode::parseInt);
        return value == null ? 0 : value;
    }

    public long longValue(String key, long defaultValue) {
        return scalar(key, defaultValue, false, "an integer", s -> Long.parseLong(s.replace("_", "")));
    }

    public double number(String key, double defaultValue) {
        return scalar(key, defaultValue, false, "a finite number", RecipeNode::parseDouble);
    }

    public Double optionalNumber(String key) {
        return scalar(key, null, false, "a finite number", RecipeNode::parseDouble);
    }

    public Boolean optionalBool(String key) {
        return scalar(key, null, false, "true or false", RecipeNode::parseBoolean);
    }

    public boolean bool(String key, boolean defaultValue) {
        return scalar(key, defaultValue, false, "true or false", RecipeNode::parseBoolean);
    }

    public <E extends Enum<E>> E enumValue(String key, Class<E> type, E defaultValue) {
        List<String> names = new ArrayList<>();
        for (E constant : type.getEnumConstants()) {
            names.add(constant.name().toLowerCase(Locale.ROOT));
        }
        return scalar(key, defaultValue, false, "one of " + names,
                s -> Enum.valueOf(type, s.trim().toUpperCase(Locale.ROOT)));
    }

    /** Checks a value read from this node; reports under the child's path and line when it fails. */
    public void require(String key, boolean ok, String message) {
        if (!ok && !hasProblem(key)) {
            get(key).problem(message);
        }
    }

    /** This node as plain Java values (maps, lists, strings, numbers, booleans), for pass-through sections. */
    public Object toPlain() {
        opaque = true;
        return plain(node);
    }

    private static Object plain(Node node) {
        if (node == null) {
            return null;
        }
        if (node instanceof MappingNode mapping) {
            Map<String, Object> map = new LinkedHashMap<>();
            for (NodeTuple t : mapping.getValue()) {
                map.put(((ScalarNode) t.getKeyNode()).getValue(), plain(t.getValueNode()));
            }
            return map;
        }
        if (node instanceof SequenceNode seq) {
            List<Object> list = new ArrayList<>();
            seq.getValue().forEach(n -> list.add(plain(n)));
            return list;
        }
        ScalarNode scalar = (ScalarNode) node;
        Tag tag = scalar.getTag();
        String v = scalar.getValue();
        if (tag.equals(Tag.NULL)) {
            return null;
        }
        if (tag.equals(Tag.INT)) {
            long l = Long.parseLong(v.replace("_", ""));
            return l == (int) l ? (Object) (int) l : (Object) l;
        }
        if (tag.equals(Tag.FLOAT)) {
            return parseDouble(v);
        }
        if (tag.equals(Tag.BOOL)) {
            return parseBoolean(v);
        }
        return v;
    }

    /** Reports keys of this mapping (and, recursively, of mappings read below it) that nothing asked for. */
    public void finish() {
        if (opaque) {
            return;
        }
        if (node instanceof MappingNode mapping) {
            for (NodeTuple tuple : mapping.getValue()) {
                String key = ((ScalarNode) tuple.getKeyNode()).getValue();
                if (!read.contains(key)) {
                    problems.add(lineOf(tuple.getKeyNode()), childPath(key), "unknown key");
                }
            }
        }
        for (RecipeNode child : children) {
            if (child.isMapping() || child.isSequence()) {
                child.finish();
            }
        }
    }

    static int parseInt(String s) {
        return Integer.parseInt(s.trim().replace("_", ""));
    }

    static double parseDouble(String s) {
        String t = s.trim().toLowerCase(Locale.ROOT).replace("_", "");
        double v = Double.parseDouble(t);
        if (!Double.isFinite(v)) {
            throw new NumberFormatException("not finite");
        }
        return v;
    }

    static boolean parseBoolean(String s) {
        return switch (s.trim().toLowerCase(Locale.ROOT)) {
            case "true", "yes", "on" -> true;
            case "false", "no", "off" -> false;
            default -> throw new IllegalArgumentException("not a boolean");
        };
    }
}
