"""The in-memory chunk -> section -> document maps that search uses instead of SQL lookups."""

import numpy as np

from retrieval.id_maps import IdMaps, documents_of


def _maps() -> IdMaps:
    # chunks 1..4: 1, 2 in section 10 (doc 1; chunk 2 its summary), 3 in section 11 (doc 2), 4 in section 12 (doc 3)
    chunk_section = np.array([-1, 10, 10, 11, 12])
    summary = np.array([False, False, True, False, False])
    section_document = np.full(13, -1)
    section_document[[10, 11, 12]] = [1, 2, 3]
    return IdMaps(4, chunk_section, summary, section_document, np.array([1, 3]), np.eye(2, 3, dtype=np.float32))


def test_sections_of_maps_known_chunks_and_marks_unknown_ones():
    sections, summary = _maps().sections_of(np.array([3, 2, 99, -1, 0]))
    assert sections.tolist() == [11, 10, -1, -1, -1]
    assert summary.tolist() == [False, True, False, False, False]


def test_sections_of_drops_documents_the_filter_does_not_allow():
    allowed = np.array([False, True, False, True])  # documents 1 and 3
    sections, _ = _maps().sections_of(np.array([1, 3, 4]), allowed)
    assert sections.tolist() == [10, -1, 12]
    short = np.array([False, False, True])  # a document newer than the filter's array is not allowed
    assert _maps().sections_of(np.array([4, 3]), short)[0].tolist() == [-1, 11]


def test_documents_and_summaries():
    maps = _maps()
    assert documents_of(maps, [12, 10, 5, 40]) == {12: 3, 10: 1, 5: -1, 40: -1}
    docs, vecs = maps.summaries(np.array([False, False, False, True]))
    assert docs.tolist() == [3] and vecs.shape == (1, 3)
    assert maps.summaries()[0].tolist() == [1, 3]
