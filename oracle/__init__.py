"""Magic 8 Ball voice oracle: hear a spoken question, answer with a proverb, speak it back."""
