"""The Hub: dataset layout, cards, publishing."""
