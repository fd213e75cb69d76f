# TokenGateway container image.
#   docker build -t tokengateway:dev .
#   docker run --rm -p 8080:8080 -e TokenGateway__Redis__Configuration=host.docker.internal:6379 … tokengateway:dev
# See docs/deploy.md. No secret is baked in: every secret comes from the environment at run time.

ARG DOTNET_VERSION=10.0

# ---- 1. project files only, for a restore layer that is cached until a project file changes ----
FROM mcr.microsoft.com/dotnet/sdk:${DOTNET_VERSION} AS projects
WORKDIR /src
COPY . .
# NOTE: keeps only what restore reads (global.json, Directory.*.props/targets, NuGet.config,
# *.sln, *.csproj, packages.lock.json) with their folder structure. This stage re-runs on every
# source change, but its output, and so the restore layer below, only changes with these files.
RUN mkdir /projects \
 && find . -type f \( -name '*.csproj' -o -name '*.props' -o -name '*.targets' -o -name '*.sln' \
        -o -iname 'nuget.config' -o -name 'global.json' -o -name 'packages.lock.json' \) \
        -exec cp --parents {} /projects/ \;

# ---- 2. restore + publish ----
FROM mcr.microsoft.com/dotnet/sdk:${DOTNET_VERSION} AS build
WORKDIR /src
COPY --from=projects /projects/ ./
RUN dotnet restore src/TokenGateway/TokenGateway.csproj
COPY . .
# Same command as in docs/deploy.md ("Build without Docker").
RUN dotnet publish src/TokenGateway/TokenGateway.csproj -c Release -o /app /p:UseAppHost=false

# ---- 3. runtime ----
FROM mcr.microsoft.com/dotnet/aspnet:${DOTNET_VERSION} AS runtime
LABEL org.opencontainers.image.title="TokenGateway" \
      org.opencontainers.image.description="OpenAI-compatible metering reverse proxy with prepaid team credit in Redis"
WORKDIR /app
ENV ASPNETCORE_HTTP_PORTS=8080 \
    DOTNET_NOLOGO=1
# Files stay owned by root and are read-only for the app user; the app writes nothing but /tmp.
COPY --from=build /app ./
# `app` (uid 1654) is the non-root user the aspnet images ship; runAsUser in k8s/deployment.yaml matches.
USER $APP_UID
EXPOSE 8080
ENTRYPOINT ["dotnet", "TokenGateway.dll"]
