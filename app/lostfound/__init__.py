"""Lost and found (失物招领): reports, review, listing and matching, claims, hand-over, disposal."""
