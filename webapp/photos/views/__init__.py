"""The photo pages, by purpose: uploading, the gallery and its bulk actions, albums, one photo's page,
and the files (streamed to their owner only). Share links: webapp.photos.sharing."""
