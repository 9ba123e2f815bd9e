"""`flashctl build`: the rendered build contexts -> images (docker, podman or buildah) -> a
registry. `tags` names images (pure), `engines` drives the engine found on PATH, `registry` asks
a registry's v2 API what it has, `flows` ties them to the render and to `apply --build`."""
