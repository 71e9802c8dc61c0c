"""presswatch: crawler/spiders."""
