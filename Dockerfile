# syntax=docker/dockerfile:1
# The project's processes (webhook API, Temporal worker, queue worker) in one image; the compose file
# picks the entry point. Multi-stage: dependencies and the TypeScript build stay out of the runtime.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-fund --no-audit
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY workflows ./workflows
COPY activities ./activities
COPY workers ./workers
COPY cli ./cli
COPY scripts ./scripts
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim AS runtime
# skopeo/buildah for the build stage's image tools; ca-certificates for TLS registries.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates skopeo buildah tini \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# `node bin/dchain.js …` runs the compiled CLI (no sources in the image, so dist/ is always the one used).
COPY bin ./bin
COPY package.json ./
ENV NODE_ENV=production DCHAIN_DATA_DIR=/var/lib/delivery-chain
RUN useradd --system --uid 10001 --home-dir /var/lib/delivery-chain --create-home dchain
USER 10001:10001
ENTRYPOINT ["/usr/bin/tini", "--", "node"]
CMD ["dist/workers/api.js"]
