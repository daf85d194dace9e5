# The session server (and the stand-alone origin) as run in production: TypeScript compiled
# to dist/ by `npm run build`, run by plain node, no dev dependencies.
#
# ffmpeg: Debian's (apt, 5.1 on bookworm). origin/ingest/ffmpeg.ts prefers a system ffmpeg
# on PATH to the static 4.1 build inside @ffmpeg-installer/ffmpeg, so those npm binaries
# (about 150 MB with ffprobe's) would never run here and are left out of the image.
#
#   docker build -t playback-server .
#   docker run -p 8080:8080 -e HOST=0.0.0.0 -e JWT_SECRET=... -e URL_SIGNING_KEYS=k1:... playback-server

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build \
  && npm prune --omit=dev --no-audit --no-fund \
  && rm -rf node_modules/@ffmpeg-installer node_modules/@ffprobe-installer

FROM node:20-bookworm-slim
RUN apt-get update \
  && apt-get install -y --no-install-recommends ffmpeg \
  && rm -rf /var/lib/apt/lists/* \
  && mkdir -p /data \
  && chown node:node /data
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER node
ENV NODE_ENV=production DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 8080
CMD ["node", "dist/app/server.js"]
