"""Policy heads: small trained classifiers, one per policy category, over the sentence encoder."""
