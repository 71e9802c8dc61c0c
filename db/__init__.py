"""The only package that writes SQL. Imports nothing from crawler, alerts or scheduler."""
