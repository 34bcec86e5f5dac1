"""Finding service items: Chinese segmentation, colloquial synonyms, pinyin, typo tolerance."""
