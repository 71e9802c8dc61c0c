"""Everything that runs inside a Scrapy crawl: sources, spiders, parsers, pipelines."""
