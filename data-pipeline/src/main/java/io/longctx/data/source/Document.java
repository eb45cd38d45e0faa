package io.longctx.data.source;

/**
 * One document read from a source.
 *
 * @param id a stable identity: the source's id field, else file path and line or record number
 * @param text the document text, invalid UTF-8 already replaced
 */
public record Document(String id, String text) {
}
