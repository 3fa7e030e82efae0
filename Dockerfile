# The iotmq image: one binary for `iotmq agent`, `iotmq operator` and `iotmq broker` (the Helm chart
# in extension/chart runs the first two; the operator's Deployments run the third from this same image).
#   docker build -t ghcr.io/iotmq/iotmq:0.1.0 .

FROM node:20-slim AS build
WORKDIR /app
# better-sqlite3 is native: build it here if no prebuilt binary matches.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` compiles the sources, which are not copied yet.
RUN npm ci --ignore-scripts && npm rebuild better-sqlite3
COPY tsconfig.json tsconfig.build.json ./
COPY src src
COPY extension extension
COPY scripts scripts
COPY bench bench
COPY specs specs
RUN npm run build && npm prune --omit=dev

FROM node:20-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
# Read at run time: the OpenAPI documents (RP validation, resource registry) and the CRDs.
COPY --from=build /app/specs/openapi3 specs/openapi3
COPY --from=build /app/extension/chart/crds extension/chart/crds
# Mount points of the broker workloads (extension/operator/drivers/kubernetes.ts CONTAINER_LAYOUT).
RUN mkdir -p /etc/iotmq /var/lib/iotmq && chown 1000:1000 /var/lib/iotmq
USER 1000:1000
ENTRYPOINT ["node", "/app/dist/src/cli/main.js"]
