# syntax=docker/dockerfile:1
# minutegate: multi-stage build on the current Node LTS (24), major tag pinned.
# `docker build --build-arg GIT_COMMIT=$(git rev-parse HEAD) -t minutegate .`

# ---- build: compile TypeScript (tsc), copy the Lua scripts and migrations, bundle the web app ----
FROM node:24-bookworm-slim AS build
WORKDIR /app

# Dependencies first so this layer is cached until the lockfile changes. All of them: the
# build's tools (typescript, esbuild, preact, @twilio/voice-sdk) are devDependencies.
# --ignore-scripts: no package's install script runs (swagger-ui-dist's @scarf/scarf phones
# home from one; esbuild's launcher finds the binary of its @esbuild/<platform> package without it).
# The client package is an npm workspace: its package.json takes part in the install.
COPY package.json package-lock.json ./
COPY packages/client/package.json ./packages/client/package.json
RUN npm ci --ignore-scripts --no-audit --no-fund

COPY tsconfig.json tsconfig.build.json ./
COPY scripts/copy-lua.mjs ./scripts/copy-lua.mjs
COPY scripts/build-web.mjs ./scripts/build-web.mjs
COPY web ./web
COPY src ./src
# The web app bundles @minutegate/client from its source (packages/client/src).
COPY packages/client/src ./packages/client/src
# build = tsc -p tsconfig.build.json && node scripts/copy-lua.mjs && node scripts/build-web.mjs
#   ->  dist/ (+ dist/redis/lua/*.lua, dist/postgres/migrations/*.sql, dist/web/: the web app)
RUN npm run build \
 && test -f dist/main.js \
 && ls dist/redis/lua/*.lua > /dev/null \
 && ls dist/postgres/migrations/*.sql > /dev/null \
 && test -f dist/web/index.html

# ---- runtime: production dependencies + dist/ (with dist/web) only, non-root ----
FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app

# package.json is needed at runtime too ("type": "module" makes dist/*.js ESM; the version).
# Only what the server imports (dependencies), and no install script runs (see above).
# test/production-install.test.ts runs these stages' commands and starts the result.
# --workspaces=false: the client package (packages/client) is for the web build, not the
# server; without it npm would link it into node_modules even with --omit=dev.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --workspaces=false --no-audit --no-fund \
 && npm cache clean --force

# Shown by minutegate_build_info (empty: "unknown"); not read by anything else.
ARG GIT_COMMIT=""
ENV GIT_COMMIT=$GIT_COMMIT

# Owned by root and not writable by the app user.
COPY --from=build /app/dist ./dist

USER node
EXPOSE 8080

# No curl/wget in slim images: probe /healthz with node itself (honours PORT if overridden).
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "const port=Number(process.env.PORT)||8080;const req=require('node:http').get({host:'127.0.0.1',port,path:'/healthz',timeout:4000},(res)=>{res.resume();process.exit(res.statusCode>=200&&res.statusCode<300?0:1)});req.on('timeout',()=>{req.destroy();process.exit(1)});req.on('error',()=>process.exit(1));"]

CMD ["node", "dist/main.js"]
